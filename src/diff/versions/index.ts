export { apkToolsSeries, compareApk3Versions, compareApkVersions, isValidApk3Version, isValidApkVersion, splitApkRevision, type ApkToolsSeries } from "./apk.js";
export { compareApk2Versions, isValidApk2Version } from "./apk2.js";
export { compareDebVersions, parseDebVersion } from "./deb.js";
export { compareRpmVersions, parseRpmVersion, rpmvercmp } from "./rpm.js";
export { compareGenericVersions, parseGenericVersion } from "./generic.js";
export { classifyChange, compareVersions, majorComponent, upstreamOf, type Classification, type VersionOrdering } from "./compare.js";
