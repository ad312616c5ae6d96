export { compareApkVersions, isValidApkVersion, splitApkRevision } from "./apk.js";
export { compareDebVersions, parseDebVersion } from "./deb.js";
export { compareRpmVersions, parseRpmVersion, rpmvercmp } from "./rpm.js";
export { compareGenericVersions, parseGenericVersion } from "./generic.js";
export { classifyChange, compareVersions, majorComponent, upstreamOf, type Classification } from "./compare.js";
