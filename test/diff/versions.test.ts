import { execFileSync, spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  apkToolsSeries,
  classifyChange,
  compareApk3Versions,
  compareApkVersions,
  compareDebVersions,
  compareGenericVersions,
  compareRpmVersions,
  compareVersions,
  isValidApkVersion,
  majorComponent,
} from "../../src/diff/versions/index.js";

type Cmp = (a: string, b: string) => -1 | 0 | 1;
const sym = { "<": -1, "=": 0, ">": 1 } as const;

/** Checks each "a OP b" row in both directions. */
function table(cmp: Cmp, rows: readonly string[]): void {
  it.each(rows)("%s", (row) => {
    const [a, op, b] = row.split(" ") as [string, keyof typeof sym, string];
    expect(cmp(a, b)).toBe(sym[op]);
    expect(cmp(b, a)).toBe(-sym[op] || 0);
  });
}

describe("compareApkVersions (apk-tools 2.x, the default: orderings from apk-tools' test/version.data and its grammar)", () => {
  table(compareApkVersions, [
    "1.0_rc1 < 1.0",
    "1.0 < 1.0_p1",
    "1.0-r1 < 1.0-r2",
    "1.0a > 1.0",
    "1.0_alpha < 1.0_beta",
    "1.0_beta < 1.0_pre",
    "1.0_pre < 1.0_rc",
    "1.0_cvs < 1.0_svn",
    "1.0_svn < 1.0_git",
    "1.0_git < 1.0_hg",
    "1.0_hg < 1.0_p",
    "2.34 > 0.1.0_alpha",
    "23_foo > 4_beta",
    "1.0 < 1.0bc",
    "0.1.0_alpha = 0.1.0_alpha",
    "0.1.0_alpha2 > 0.1.0_alpha",
    "1.1 > 1.1_alpha1",
    "1.2.1 > 1.2",
    "2.3.0b-r1 < 2.3.0b-r2",
    "0.12.3 > 0.12",
    "1.06-r6 < 006",
    "1.2.2-r1 > 1.2.2",
    "2.59 < 20050718-r1",
    "3.9.8-r5 > 2.01.01_alpha10",
    "1.0 > 0.99.3.20040818",
    "1.39 > 1.00_beta2",
    "4.2.52_p2-r1 < 4.2.52_p4-r2",
    "2.18.3-r10 > 1.05-r18",
    "20060720 > 3.0.20060720",
    "1.3.5-r10 > 1.3.5-r8",
    "2.5.1-r8 < 2.5.1a-r1",
    "3.0.0-r2 < 021109-r3",
    "0.10.0 < 0.10.1_rc1",
    "0.10.0-r1 > 0.10.0",
    "1.1a < 1.3a",
    "0.15.1b-r2 > 0.15.1b",
    "22.7.3-r1 > 22.7",
    "2.10.1 > 02.08.01b",
    "1.2.07.8 < 1.2.12.04",
    "0.20070118 < 0.20070207_rc1",
    "4.5_p1 < 4.5_p1-r1",
    "1.7 < 1.7b",
    "1.8.5 < 1.8.5_p2",
    "0.9.28-r2 < 0.9.28.1",
    "104-r11 > 104-r9",
    "20040406-r1 > 2.12r-r4",
    "7.0.17 < 7.0.174",
    "1.3-r0 < 1.3.1-r0",
    "1.3_pre1-r1 < 1.3.2",
    "1.0_p10-r0 > 1.0_p9-r0",
    "0.1.0_alpha_pre2 < 0.1.0_alpha",
    "1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0",
    "6.0_pre1 < 6.0",
    "6.0_p1 > 6.0",
    "1.05 < 1.5",
    "1.2.3~abc1 > 1.2.3-r0",
    "1.2.3~abc1 > 1.2.3",
    "99999999999999999999999 < 100000000000000000000000",
    // More of version.data's rows with zeros after a dot, and letters.
    "2.01.01_alpha10 > 0.94",
    "1.02 < 1.03-r1",
    "1.02.07 < 1.02.10-r1",
    "0.9.28.1 < 087-r1",
    "1.2.12.04 < 1.2.12.05",
    "2.8.6-r2 > 2.02-r1",
    "4.5.14 > 4.09-r1",
    "0.01 < 0.06",
    "0.0.31 < 0.0.50",
    "1.6d > 1.2.07.8",
    "0.59s-r11 < 0.65",
    "0.98 < 1.00",
    "0.9.8c-r1 < 0.9.8d",
    // Where 2.x and 3.x part: zeros after a dot are a number's (2.x), not text (3.x); a digit after a letter
    // goes on being compared (real: aspell-ru 0.99f7), where 3.x stops there as invalid.
    "2.036 > 2.04",
    "1.0 > 1.00",
    "1.001 < 1.01",
    "0.99f7 < 0.99f8",
    "0.99f7-r1 < 0.99f8-r0",
    // apk-tools' hex digits are lower-case only: `~ABC` is no hash, and the version stops being valid there.
    "1.2.3~ABC = 1.2.3~DEF",
  ]);

  it("knows which versions apk-tools 2.x accepts", () => {
    for (const v of ["1", "1.2.3", "1.2a", "1.0_rc1", "1.0_alpha_pre2", "1.2_p3-r4", "1.2~deadbeef-r0", "0.99f7"]) {
      expect(isValidApkVersion(v), v).toBe(true);
    }
    for (const v of ["1.0bc", "1.0_foo", "1.0-1", "1.2~DEADBEEF-r0", "1.2~-r0"]) {
      expect(isValidApkVersion(v), v).toBe(false);
    }
    // 2.x is laxer than 3.x: an empty version, and one starting with a letter, pass its apk_version_validate.
    expect(isValidApkVersion("")).toBe(true);
    expect(isValidApkVersion("a1")).toBe(true);
  });
});

describe("compareApk3Versions (apk-tools 3.x, for images whose database lists apk-tools 3)", () => {
  table(compareApk3Versions, [
    "1.0_rc1 < 1.0",
    "1.0-r1 < 1.0-r2",
    "2.036 < 2.04",
    "1.0 < 1.00",
    "1.05 < 1.5",
    "0.99f7 = 0.99f8",
    "1.2.3~abc1 > 1.2.3-r0",
    "1.2.3~ABC = 1.2.3~DEF",
  ]);

  it("knows which versions apk-tools 3 accepts", () => {
    for (const v of ["1", "1.2.3", "1.2a", "1.0_rc1", "1.0_alpha_pre2", "1.2_p3-r4", "1.2~deadbeef-r0"]) {
      expect(isValidApkVersion(v, 3), v).toBe(true);
    }
    for (const v of ["", "a1", "1.0bc", "1.0_foo", "1.0-1", "1..2", "1.0-r", "1.0-r1-r2", "0.99f7", "1.2~DEADBEEF-r0"]) {
      expect(isValidApkVersion(v, 3), v).toBe(false);
    }
  });

  it("is chosen by the installed apk-tools version, 2.x when unknown", () => {
    expect(apkToolsSeries("3.0.6-r0")).toBe(3);
    expect(apkToolsSeries("2.14.10-r0")).toBe(2);
    expect(apkToolsSeries(undefined)).toBe(2);
    expect(compareApkVersions("2.036", "2.04", 3)).toBe(-1);
    expect(compareApkVersions("2.036", "2.04")).toBe(1);
  });
});

describe("compareDebVersions (dpkg's lib/dpkg/version.c and Debian Policy 5.6.12)", () => {
  table(compareDebVersions, [
    "0:1.0-1 = 1.0-1",
    "1:1.0 > 0:1.0",
    "2:0.5 > 1:9.9",
    "1:0.9 > 2.0",
    "1.0-1 < 1.0-2",
    "1.0~rc1 < 1.0",
    "1.0~rc1 < 1.0~rc2",
    "1.0 < 1.0+b1",
    "1.0 < 1.0a",
    "1.0~~ < 1.0~~a",
    "1.0~~a < 1.0~",
    "1.0~ < 1.0",
    "1.0 < 1.0.0",
    "1.0 = 1.0-0",
    "0:0-0 = 0",
    "1.0000-1 = 1.0-1",
    "2.2~rc-4 < 2.2-1",
    "1.1-20080727-1 > 1.1-20080316-1",
    "7.6p2-4 > 7.6-0",
    "1.0-1 < 2.0-2",
    "1.2.3-1ubuntu1 > 1.2.3-1",
    "1.2.3-1+deb12u1 > 1.2.3-1",
    "1.2.3-1~bpo12+1 < 1.2.3-1",
    "a < b",
    "1.0a < 1.0+",
    "3.0.11-1~deb12u2 > 3.0.11-1~deb12u1",
    "2.36-9+deb12u4 < 2.36-9+deb12u10",
  ]);
});

describe("compareDebVersions against the real dpkg", () => {
  it("orders as dpkg --compare-versions does", () => {
    const pairs = [["2.36-9+deb12u1", "2.36-9+deb12u2"], ["1.0~rc1", "1.0"], ["1:0.9", "2.0"], ["1.0", "1.0-0"], ["1.0a", "1.0+"], ["1.2-3", "1.2-3+b1"]];
    for (const [a, b] of pairs) {
      const dpkgSays = (op: string): boolean => spawnSync("dpkg", ["--compare-versions", a!, op, b!]).status === 0;
      const want = dpkgSays("lt") ? -1 : dpkgSays("gt") ? 1 : 0;
      expect(compareDebVersions(a!, b!), `${a} vs ${b}`).toBe(want);
    }
  });
});

describe("compareRpmVersions (rpm's rpmvercmp tests, with ~ and ^)", () => {
  table(compareRpmVersions, [
    "1.0 = 1.0",
    "1.0 < 2.0",
    "2.0.1 > 2.0",
    "2.0.1a > 2.0.1",
    "5.5p1 < 5.5p2",
    "5.5p10 > 5.5p1",
    "10xyz < 10.1xyz",
    "xyz10 < xyz10.1",
    "xyz.4 < 8",
    "5.6p1 < 6.5p1",
    "6.0.rc1 > 6.0",
    "10b2 > 10a1",
    "1.0a < 1.0aa",
    "2a < 2.0",
    "1.0 = 1_0",
    "1.0~rc1 < 1.0",
    "1.0~rc1 < 1.0~rc2",
    "1.0~rc1~git123 < 1.0~rc1",
    "1.0^ > 1.0",
    "1.0^git1 > 1.0",
    "1.0^git1 < 1.01",
    "1.0^20160101 < 1.0.1",
    "1.0^20160101^git1 > 1.0^20160101",
    "1.0~rc1^git1 > 1.0~rc1",
    "1.0^git1~pre < 1.0^git1",
    "1:1.0-1 > 2.0-1",
    "1.0-1.el9 < 1.0-2.el9",
    "3.0.7-24.el9 < 3.0.7-25.el9",
    // rpm.vercmp: a missing release is below any present one, an empty one and `~` included.
    "1.0 < 1.0-~",
    "1.0 < 1.0-",
    "1.0 < 1.0-0",
    "1.0-~ < 1.0-",
    "1.0-1 > 1.0",
    "0:1.0 = 1.0",
  ]);

  it("agrees with the real rpm.vercmp where rpm is installed", () => {
    const pairs = [["1.0", "1.0-~"], ["1.0", "1.0-"], ["1.0-~", "1.0-"], ["1.0-1", "1.0"], ["1:1.0", "2.0-1"], ["1.0^git1", "1.0"], ["1.0~rc1", "1.0"]];
    let script: string;
    try {
      script = pairs.map(([a, b]) => `print(rpm.vercmp("${a}", "${b}") .. " ")`).join(" ");
      const out = execFileSync("rpm", ["--eval", `%{lua: ${script}}`], { encoding: "utf8" });
      expect(out.trim().split(/\s+/).map(Number)).toEqual(pairs.map(([a, b]) => compareRpmVersions(a!, b!)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new Error("rpm is not installed: run scripts/install-test-deps.sh");
      throw error;
    }
  });
});

describe("compareGenericVersions (semver-ish, for purl types other than apk/deb/rpm)", () => {
  table(compareGenericVersions, [
    "1.2.3 < 1.2.4",
    "1.10.0 > 1.9.9",
    "v1.2.3 < 1.2.4",
    "1.0.0-rc.1 < 1.0.0",
    "1.0.0-alpha < 1.0.0-alpha.1",
    "1.0.0-alpha.1 < 1.0.0-alpha.beta",
    "1.0.0-beta.2 < 1.0.0-beta.11",
    "1.0.0-rc.1 < 1.0.0-rc.1.1",
    "0.0.0-20230101000000-abcdef < 0.0.0-20240101000000-abcdef",
    "1.0.0+build.1 < 1.0.0+build.2",
    "1.0 < 1.0.0",
  ]);
  it("never calls two different strings equal", () => {
    expect(compareGenericVersions("1.0", "1.0.0")).not.toBe(0);
    expect(compareGenericVersions("1.0+a", "1.0+a")).toBe(0);
  });
});

describe("comparator laws (property tests)", () => {
  const digits = fc.constantFrom("0", "1", "2", "9", "10", "01", "007", "123456789012345678901");
  const lower = fc.constantFrom("a", "b", "z");
  const apkSuffix = fc.constantFrom("alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p");
  const apkVersion = fc
    .tuple(
      fc.array(digits, { minLength: 1, maxLength: 4 }),
      fc.option(lower),
      fc.array(fc.tuple(apkSuffix, fc.option(digits)), { maxLength: 2 }),
      fc.option(fc.constantFrom("abc", "0123", "f")),
      fc.option(digits),
    )
    .map(([nums, letter, suffixes, hash, rev]) => {
      let v = nums.join(".") + (letter ?? "");
      for (const [s, n] of suffixes) v += `_${s}${n ?? ""}`;
      if (hash !== null) v += `~${hash}`;
      if (rev !== null) v += `-r${rev}`;
      return v;
    });
  const anyApkish = fc.oneof(apkVersion, fc.stringMatching(/^[0-9a-z._~\-r]{0,8}$/));
  const debish = fc.stringMatching(/^([0-9]{1,2}:)?[0-9a-zA-Z.+~]{1,8}(-[0-9a-zA-Z.+~]{1,5})?$/);
  const rpmish = fc.stringMatching(/^([0-9]{1,2}:)?[0-9a-zA-Z.~^_]{1,8}(-[0-9a-zA-Z.~^_]{1,5})?$/);
  const genericish = fc.stringMatching(/^v?[0-9a-z.]{1,8}(-[0-9a-z.]{1,5})?(\+[0-9a-z.]{1,4})?$/);

  const laws: [string, Cmp, fc.Arbitrary<string>][] = [
    ["apk (valid versions)", compareApkVersions, apkVersion],
    ["apk (any text)", compareApkVersions, anyApkish],
    ["apk 3 (valid versions)", compareApk3Versions, apkVersion],
    ["apk 3 (any text)", compareApk3Versions, anyApkish],
    ["deb", compareDebVersions, debish],
    ["rpm", compareRpmVersions, rpmish],
    ["generic", compareGenericVersions, genericish],
  ];

  for (const [name, cmp, arb] of laws) {
    describe(name, () => {
      it("is reflexive and antisymmetric", () => {
        fc.assert(
          fc.property(arb, arb, (a, b) => {
            expect(cmp(a, a)).toBe(0);
            expect(cmp(a, b)).toBe(-cmp(b, a) || 0);
          }),
          { numRuns: 2000 },
        );
      });
      it("is transitive", () => {
        fc.assert(
          fc.property(arb, arb, arb, (a, b, c) => {
            const [x, y, z] = [a, b, c].sort(cmp);
            expect(cmp(x!, y!)).toBeLessThanOrEqual(0);
            expect(cmp(y!, z!)).toBeLessThanOrEqual(0);
            expect(cmp(x!, z!)).toBeLessThanOrEqual(0);
            if (cmp(x!, y!) === 0 && cmp(y!, z!) === 0) expect(cmp(x!, z!)).toBe(0);
          }),
          { numRuns: 3000 },
        );
      });
    });
  }
});

describe("compareVersions", () => {
  it("dispatches by package type", () => {
    // The same pair orders differently: apk knows `_rc` is a pre-release and `_p` a patch level,
    // the semver-ish order only compares the words as text.
    expect(compareVersions("apk", "1.0-r1", "1.0-r2")).toBe(-1);
    expect(compareVersions("apk", "1.0_rc1", "1.0_p1")).toBe(-1);
    expect(compareVersions("generic", "1.0_rc1", "1.0_p1")).toBe(1);
    expect(compareVersions("apk", "1.0_rc1", "1.0")).toBe(-1);
    expect(compareVersions("deb", "1.0~rc1", "1.0")).toBe(-1);
    expect(compareVersions("rpm", "1.0^git1", "1.0")).toBe(1);
    expect(compareVersions("npm", "1.0.0-rc.1", "1.0.0")).toBe(-1);
    expect(compareVersions("golang", "v1.10.0", "v1.9.0")).toBe(1);
  });
});

describe("classifyChange", () => {
  it.each([
    ["apk", "1.36.1-r2", "1.36.1-r3", "rebuild", false],
    ["apk", "1.36.1-r3", "1.36.1-r2", "downgrade", false],
    ["apk", "1.36.1-r3", "1.37.0-r0", "upgrade", false],
    ["apk", "1.1.1w-r0", "3.0.0-r0", "upgrade", true],
    ["apk", "3.0.0-r0", "1.1.1w-r0", "downgrade", true],
    ["apk", "2024a-r0", "2024b-r0", "upgrade", false],
    ["apk", "20240203-r0", "20241121-r0", "upgrade", false],
    ["deb", "2.36-9+deb12u4", "2.36-9+deb12u7", "distribution-update", false],
    ["deb", "2.36-9+deb12u1", "2.36-9+deb12u2", "distribution-update", false],
    ["deb", "1.2.11.dfsg-2ubuntu0.22.04.1", "1.2.11.dfsg-2ubuntu0.22.04.2", "distribution-update", false],
    ["deb", "1.2-3", "1.2-4", "distribution-update", false],
    ["deb", "1.2-3", "1.2-3+b1", "rebuild", false],
    ["deb", "1.2-3+deb12u1", "1.2-3+deb12u1+b2", "rebuild", false],
    ["deb", "1.2-3ubuntu1", "1.2-3ubuntu1build1", "rebuild", false],
    ["deb", "1.2-3+deb12u2", "1.2-3+deb12u1", "downgrade", false],
    ["deb", "1:2.36-1", "2:2.36-1", "upgrade", false],
    ["deb", "1:1.0-1", "1:2.0-1", "upgrade", true],
    ["deb", "1:1.0-1", "2:0.5-1", "upgrade", true],
    ["deb", "1.0", "1.0-0", "rebuild", false],
    ["rpm", "3.0.7-24.el9", "3.0.7-25.el9", "distribution-update", false],
    ["rpm", "3.0.7-24.el9", "3.0.7-24.el9_3", "distribution-update", false],
    ["rpm", "3.0.7-24.el9", "3.2.1-1.el9", "upgrade", false],
    ["npm", "4.17.20", "5.0.0", "upgrade", true],
    ["npm", "1.0.0+build1", "1.0.0+build2", "rebuild", false],
    ["golang", "v0.9.0", "v1.0.0", "upgrade", true],
  ] as const)("%s %s → %s: %s (major %s)", (type, previous, current, classification, major) => {
    expect(classifyChange(type, previous, current)).toEqual({ classification, major });
  });

  it("takes the first number of the upstream version as the major, epochs and date stamps left out", () => {
    expect(majorComponent("deb", "2:1.18.0-1")).toBe("1");
    expect(majorComponent("apk", "20240203-r0")).toBeUndefined();
    expect(majorComponent("golang", "v2.3.4")).toBe("2");
    expect(majorComponent("apk", "007-r1")).toBe("7");
  });
});
