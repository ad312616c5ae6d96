import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  familiarName,
  formatPlatform,
  formatReference,
  imageKey,
  InvalidReferenceError,
  isDigest,
  normaliseName,
  parseDigest,
  parseReference,
  registryEndpoint,
  shortDigest,
  tagKey,
  tryParseReference,
} from "../../src/reference/index.js";

const D = `sha256:${"0123456789abcdef".repeat(4)}`;

describe("digests", () => {
  it("accepts sha256 with 64 lowercase hex digits", () => {
    expect(parseDigest(D)).toBe(D);
    expect(isDigest(D)).toBe(true);
  });

  it.each([
    ["uppercase hex", D.toUpperCase().replace("SHA256", "sha256"), /lowercase/],
    ["63 digits", D.slice(0, -1), /not 63/],
    ["65 digits", `${D}0`, /not 65/],
    ["another algorithm", `sha512:${"0".repeat(128)}`, /only sha256/],
    ["non-hex", `sha256:${"g".repeat(64)}`, /non-hex/],
    ["empty", "", /only sha256/],
  ])("rejects %s with a one-line reason", (_label, text, reason) => {
    expect(isDigest(text)).toBe(false);
    expect(() => parseDigest(text)).toThrow(InvalidReferenceError);
    expect(() => parseDigest(text)).toThrow(reason);
    try {
      parseDigest(text);
    } catch (error) {
      expect((error as Error).message).not.toContain("\n");
    }
  });

  it("shortens for display", () => {
    expect(shortDigest(parseDigest(D))).toBe("sha256:0123456789ab");
    expect(shortDigest(parseDigest(D), 7)).toBe("sha256:0123456");
  });
});

describe("parseReference", () => {
  it.each([
    ["nginx", { registry: "docker.io", repository: "library/nginx" }],
    ["nginx:1.25", { registry: "docker.io", repository: "library/nginx", tag: "1.25" }],
    ["bitnami/redis:7", { registry: "docker.io", repository: "bitnami/redis", tag: "7" }],
    ["docker.io/nginx:1", { registry: "docker.io", repository: "library/nginx", tag: "1" }],
    ["index.docker.io/library/nginx:1", { registry: "docker.io", repository: "library/nginx", tag: "1" }],
    ["registry-1.docker.io/nginx:1", { registry: "docker.io", repository: "library/nginx", tag: "1" }],
    [`cgr.dev/chainguard/static:latest@${D}`, { registry: "cgr.dev", repository: "chainguard/static", tag: "latest", digest: D }],
    [`localhost:5000/foo@${D}`, { registry: "localhost:5000", repository: "foo", digest: D }],
    ["localhost/foo:1", { registry: "localhost", repository: "foo", tag: "1" }],
    ["[::1]:5000/x:y", { registry: "[::1]:5000", repository: "x", tag: "y" }],
    ["[2001:db8::1]/a/b", { registry: "[2001:db8::1]", repository: "a/b" }],
    ["Registry.Example.COM:443/a__b/c---d.e_f:V1_x", { registry: "registry.example.com:443", repository: "a__b/c---d.e_f", tag: "V1_x" }],
    // Docker reads a lone `host:port` as a repository and a tag.
    ["localhost:5000", { registry: "docker.io", repository: "library/localhost", tag: "5000" }],
    [`ghcr.io/a/b/c/d:${"t".repeat(128)}`, { registry: "ghcr.io", repository: "a/b/c/d", tag: "t".repeat(128) }],
  ])("%s", (text, expected) => {
    expect(parseReference(text)).toEqual(expected);
  });

  it.each([
    ["Foo:bar", /repository names must be lowercase/],
    ["foo/Bar", /repository names must be lowercase/],
    ["a..b", /invalid path component/],
    ["a___b", /invalid path component/],
    ["-a", /invalid path component/],
    ["a/", /empty path component/],
    ["/a", /empty path component/],
    ["", /empty image name/],
    ["a:", /empty tag/],
    [`a:${"t".repeat(129)}`, /129 characters/],
    ["a:.x", /must start with/],
    ["a:x+y", /tags may contain only/],
    ["-bad.io/a", /invalid registry host/],
    ["host.io:port/a", /port must be digits/],
    ["[zz::1]/a", /IPv6/],
    ["[::1/a:b", /'\['/],
    ["a@sha256:abc", /64 hex digits/],
    ["a@md5:abc", /only sha256/],
    ["0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", /image ID/],
    [`${"a".repeat(250)}/b`, /255/],
  ])("rejects %s", (text, reason) => {
    expect(() => parseReference(text)).toThrow(InvalidReferenceError);
    expect(() => parseReference(text)).toThrow(reason);
    expect(tryParseReference(text)).toBeUndefined();
  });

  it("names the input in the error message, escaped and shortened", () => {
    expect(() => parseReference("Foo:bar")).toThrow('invalid reference "Foo:bar": repository names must be lowercase');
    const hostile = `A\n${"x".repeat(5000)}`;
    try {
      parseReference(hostile);
      expect.unreachable();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).not.toContain("\n");
      expect(message.length).toBeLessThan(300);
    }
  });

  it("formats what it parses back to an equal reference", () => {
    const component = fc.stringMatching(/^[a-z0-9]+([._-][a-z0-9]+)?$/);
    const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);
    const host = fc.constantFrom("docker.io", "ghcr.io", "localhost:5000", "[::1]:5000", "registry.example.com");
    fc.assert(
      fc.property(host, fc.array(component, { minLength: 1, maxLength: 3 }), fc.option(tag), fc.boolean(), (h, path, t, withDigest) => {
        const text = `${h}/${path.join("/")}${t === null ? "" : `:${t}`}${withDigest ? `@${D}` : ""}`;
        const parsed = parseReference(text);
        expect(parseReference(formatReference(parsed))).toEqual(parsed);
      }),
    );
  });

  it("never throws anything but InvalidReferenceError on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary-ascii", maxLength: 80 }), (text) => {
        try {
          parseReference(text);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidReferenceError);
        }
      }),
    );
  });
});

describe("names", () => {
  it("normalises bare names the way Docker does", () => {
    expect(normaliseName("nginx")).toEqual({ registry: "docker.io", repository: "library/nginx" });
    expect(normaliseName("index.docker.io/bitnami/redis")).toEqual({ registry: "docker.io", repository: "bitnami/redis" });
    expect(normaliseName("cgr.dev/chainguard/static")).toEqual({ registry: "cgr.dev", repository: "chainguard/static" });
    expect(() => normaliseName("Nginx")).toThrow('invalid image name "Nginx"');
  });

  it("formats canonical and familiar forms", () => {
    const nginx = parseReference(`nginx:1.25@${D}`);
    expect(formatReference(nginx)).toBe(`docker.io/library/nginx:1.25@${D}`);
    expect(familiarName(nginx)).toBe("nginx");
    expect(familiarName(parseReference("bitnami/redis"))).toBe("bitnami/redis");
    expect(familiarName(parseReference("docker.io/library/a/b"))).toBe("library/a/b");
    expect(familiarName(parseReference("cgr.dev/chainguard/static"))).toBe("cgr.dev/chainguard/static");
  });

  it("formats platforms as os/architecture[/variant]", () => {
    expect(formatPlatform({ os: "linux", architecture: "amd64" })).toBe("linux/amd64");
    expect(formatPlatform({ os: "linux", architecture: "arm", variant: "v7" })).toBe("linux/arm/v7");
  });

  it("maps Docker Hub to its API host and leaves others alone", () => {
    expect(registryEndpoint("docker.io")).toBe("registry-1.docker.io");
    expect(registryEndpoint("ghcr.io")).toBe("ghcr.io");
    expect(registryEndpoint("localhost:5000")).toBe("localhost:5000");
  });

  it("gives equal keys to equal names however they were written", () => {
    const a = parseReference("nginx:1");
    const b = parseReference("index.docker.io/library/nginx:2");
    expect(imageKey(a)).toBe(imageKey(b));
    expect(imageKey(a)).toBe("docker.io/library/nginx");
    expect(tagKey(a, "1")).toBe("docker.io/library/nginx:1");
    expect(tagKey(a, "1")).not.toBe(tagKey(b, "2"));
  });
});
