// Listing a repository's tags: every page of a real registry's list, and Link headers that try to lead elsewhere.
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRegistryClient } from "../../src/registry/client.js";
import { pushBuild, tagManifest } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { APP, ORIGIN, testClient } from "../registry/fixtures.js";

describe("listTags against a real registry", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(() => reg?.stop());

  it("lists every tag of a repository", async () => {
    const build = await pushBuild(reg, "tags/app", "1.0");
    for (const tag of ["1.1", "1.2", "2.0", "latest"]) await tagManifest(reg, "tags/app", build.images[0]!, tag);
    const client = createRegistryClient({ env: { DOCKER_CONFIG: "/nonexistent/digesta-test" }, retries: 0 });
    const tags = await client.listTags({ registry: reg.host, repository: "tags/app" }, { pageSize: 2 });
    // Each tag once, whatever order the registry keeps.
    expect([...tags].sort()).toEqual(["1.0", "1.1", "1.2", "2.0", "latest"]);
    // distribution 2.8 answers in one page whatever `n` asks; pages are tested below against the spec's Link headers.
    expect((await client.listTags({ registry: reg.host, repository: "tags/app" })).sort()).toEqual([...tags].sort());
  });

  it("a repository the registry does not know is an error that says so", async () => {
    const client = createRegistryClient({ env: { DOCKER_CONFIG: "/nonexistent/digesta-test" }, retries: 0 });
    await expect(client.listTags({ registry: reg.host, repository: "tags/missing" })).rejects.toThrow(/tags\/missing/);
  });
});

describe("listTags with a hostile registry", () => {
  afterEach(() => nock.cleanAll());
  const page = (tags: string[], link?: string): [number, { name: string; tags: string[] }, Record<string, string>] => [
    200,
    { name: "team/app", tags },
    link ? { link } : {},
  ];

  it("follows the Link header page after page to the last tag, asking each page once", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).get("/v2/team/app/tags/list").query({ n: "2" }).reply(...page(["1.0", "1.1"], '</v2/team/app/tags/list?last=1.1&n=2>; rel="next"'));
    nock(ORIGIN).get("/v2/team/app/tags/list").query({ last: "1.1", n: "2" }).reply(...page(["2.0", "2.1"], '</v2/team/app/tags/list?last=2.1&n=2>; rel="next"'));
    nock(ORIGIN).get("/v2/team/app/tags/list").query({ last: "2.1", n: "2" }).reply(...page(["latest"]));
    const client = testClient();
    expect(await client.listTags(APP, { pageSize: 2 })).toEqual(["1.0", "1.1", "2.0", "2.1", "latest"]);
    expect(client.stats().byKind.tags).toBe(3);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("refuses a next page on another host or another repository", async () => {
    for (const link of ['<https://elsewhere.example/v2/team/app/tags/list?last=b>; rel="next"', '</v2/other/repo/tags/list?last=b>; rel="next"']) {
      nock(ORIGIN).get("/v2/").reply(200, "{}");
      nock(ORIGIN).get("/v2/team/app/tags/list").query(true).reply(...page(["a", "b"], link));
      await expect(testClient().listTags(APP)).rejects.toThrow(/outside the repository .*; refusing to follow/);
    }
  });

  it("stops on a page that links back to one already read, and on a list that is not a list", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).get("/v2/team/app/tags/list").query({ n: "1000" }).reply(...page(["a"], '</v2/team/app/tags/list?last=a&n=1000>; rel="next"'));
    nock(ORIGIN).get("/v2/team/app/tags/list").query({ last: "a", n: "1000" }).reply(...page(["b"], '</v2/team/app/tags/list?n=1000>; rel="next"'));
    nock(ORIGIN).get("/v2/team/app/tags/list").query({ n: "1000" }).reply(...page(["a"], '</v2/team/app/tags/list?last=a&n=1000>; rel="next"'));
    await expect(testClient().listTags(APP)).rejects.toThrow(/links back to a page already read/);

    nock.cleanAll();
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).get("/v2/team/app/tags/list").query(true).reply(200, { name: "team/app", tags: "a,b" });
    await expect(testClient().listTags(APP)).rejects.toThrow(/not a list/);
  });

  it("reads an empty repository (tags: null) as no tags, and an absolute same-registry link as a next page", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).get("/v2/team/app/tags/list").query({ n: "1000" }).reply(...page(["a"], `<${ORIGIN}/v2/team/app/tags/list?last=a&n=1000>; rel="next"`));
    nock(ORIGIN).get("/v2/team/app/tags/list").query({ last: "a", n: "1000" }).reply(200, { name: "team/app", tags: null });
    expect(await testClient().listTags(APP)).toEqual(["a"]);
  });
});
