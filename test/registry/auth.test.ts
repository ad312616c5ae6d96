import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { parseWwwAuthenticate, pickChallenge } from "../../src/registry/auth.js";
import { staticCredentials } from "../../src/registry/credentials.js";
import { MediaType } from "../../src/registry/types.js";
import { AMD64, APP, HOST, ORIGIN, image, manifestHeaders, registryError, testClient } from "./fixtures.js";

const AUTH = "https://auth.example.test";
const BEARER = `Bearer realm="${AUTH}/token",service="${HOST}"`;
const SCOPE = "repository:team/app:pull";

afterEach(() => {
  const unused = nock.pendingMocks();
  nock.cleanAll();
  expect(unused).toEqual([]);
});

describe("parseWwwAuthenticate", () => {
  it("reads a Bearer challenge with quoted values", () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"')).toEqual([
      { scheme: "Bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io" } },
    ]);
  });

  it("keeps commas and escaped quotes inside quoted values, and lowercases parameter names", () => {
    const [challenge] = parseWwwAuthenticate('Bearer Realm="https://a.test/t", scope="repository:x:pull,push", error="say \\"no\\""');
    expect(challenge).toEqual({ scheme: "Bearer", params: { realm: "https://a.test/t", scope: "repository:x:pull,push", error: 'say "no"' } });
  });

  it("splits several challenges and prefers Bearer", () => {
    const challenges = parseWwwAuthenticate('Basic realm="Registry", Bearer realm="https://a.test/token",service=a.test');
    expect(challenges.map((c) => c.scheme)).toEqual(["Basic", "Bearer"]);
    expect(challenges[1]!.params).toEqual({ realm: "https://a.test/token", service: "a.test" });
    expect(pickChallenge(challenges)?.scheme).toBe("Bearer");
  });

  it("survives garbage without throwing", () => {
    for (const header of ["", "=", '"', "Bearer realm=", 'Bearer realm="unterminated', ",,, ,", "=x, Basic"]) {
      expect(() => parseWwwAuthenticate(header)).not.toThrow();
    }
    expect(pickChallenge(parseWwwAuthenticate("Negotiate abc"))).toBeUndefined();
  });
});

describe("Bearer token flow", () => {
  const img = image(AMD64);

  it("answers the ping's challenge with an anonymous token scoped to the repository", async () => {
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": BEARER });
    const token = nock(AUTH, { badheaders: ["authorization"] })
      .get("/token")
      .query({ service: HOST, scope: SCOPE })
      .reply(200, { token: "t1", expires_in: 300 });
    nock(ORIGIN)
      .matchHeader("authorization", "Bearer t1")
      .head("/v2/team/app/manifests/1.0")
      .reply(200, "", manifestHeaders(img.manifest));

    const client = testClient();
    expect(await client.headManifest(APP, "1.0")).toEqual({ mediaType: MediaType.OciManifest, digest: img.manifest.digest, size: img.manifest.size });
    expect(token.isDone()).toBe(true);
    expect(client.stats()).toMatchObject({ requests: 3, tokenRequests: 1, byKind: { ping: 1, token: 1, manifest: 1 } });
  });

  it("accepts access_token and sends Basic credentials to the realm", async () => {
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": BEARER });
    nock(AUTH)
      .matchHeader("authorization", `Basic ${Buffer.from("ann:s3cret").toString("base64")}`)
      .get("/token")
      .query(true)
      .reply(200, { access_token: "oauth-token" });
    nock(ORIGIN).matchHeader("authorization", "Bearer oauth-token").head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(img.manifest));

    const client = testClient({ credentials: staticCredentials({ [HOST]: { kind: "basic", username: "ann", password: "s3cret" } }) });
    await expect(client.headManifest(APP, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
  });

  it("uses one token for many manifests of one scope, and one ping per registry", async () => {
    nock(ORIGIN).get("/v2/").once().reply(401, "", { "www-authenticate": BEARER });
    nock(AUTH).get("/token").query(true).once().reply(200, { token: "t1", expires_in: 300 });
    const tags = ["a", "b", "c", "d", "e"];
    for (const tag of tags) {
      nock(ORIGIN).matchHeader("authorization", "Bearer t1").head(`/v2/team/app/manifests/${tag}`).reply(200, "", manifestHeaders(img.manifest));
    }
    const client = testClient();
    await Promise.all(tags.map((tag) => client.headManifest(APP, tag)));
    expect(client.stats()).toMatchObject({ tokenRequests: 1, byKind: { ping: 1, manifest: 5 } });
  });

  it("asks for another token once the first is about to expire", async () => {
    let now = 1_000_000;
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": BEARER });
    nock(AUTH).get("/token").query(true).reply(200, { token: "t1", expires_in: 60 });
    nock(AUTH).get("/token").query(true).reply(200, { token: "t2", expires_in: 60 });
    nock(ORIGIN).matchHeader("authorization", "Bearer t1").head("/v2/team/app/manifests/a").twice().reply(200, "", manifestHeaders(img.manifest));
    nock(ORIGIN).matchHeader("authorization", "Bearer t2").head("/v2/team/app/manifests/a").reply(200, "", manifestHeaders(img.manifest));

    const client = testClient({ now: () => now });
    await client.headManifest(APP, "a");
    now += 30_000;
    await client.headManifest(APP, "a");
    expect(client.stats().tokenRequests).toBe(1);
    now += 25_000; // 55 s after issue: within the last 10 s of its life
    await client.headManifest(APP, "a");
    expect(client.stats().tokenRequests).toBe(2);
  });

  it("refreshes a cached token once when the registry rejects it, then retries", async () => {
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": BEARER });
    nock(AUTH).get("/token").query(true).reply(200, { token: "t1", expires_in: 300 });
    nock(AUTH).get("/token").query(true).reply(200, { token: "t2", expires_in: 300 });
    nock(ORIGIN).matchHeader("authorization", "Bearer t1").head("/v2/team/app/manifests/a").reply(200, "", manifestHeaders(img.manifest));
    // The registry revoked t1 early.
    nock(ORIGIN).matchHeader("authorization", "Bearer t1").head("/v2/team/app/manifests/b").reply(401, "", { "www-authenticate": BEARER });
    nock(ORIGIN).matchHeader("authorization", "Bearer t2").head("/v2/team/app/manifests/b").reply(200, "", manifestHeaders(img.manifest));

    const client = testClient();
    await client.headManifest(APP, "a");
    await expect(client.headManifest(APP, "b")).resolves.toMatchObject({ digest: img.manifest.digest });
    expect(client.stats().tokenRequests).toBe(2);
  });

  it("stops after one refresh when the new token is refused too", async () => {
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": BEARER });
    nock(AUTH).get("/token").query(true).reply(200, { token: "t1" });
    nock(AUTH).get("/token").query(true).reply(200, { token: "t2" });
    nock(ORIGIN).get("/v2/team/app/manifests/a").reply(200, img.manifest.body, manifestHeaders(img.manifest));
    const denied = { errors: [{ code: "DENIED", message: "requested access to the resource is denied" }] };
    nock(ORIGIN).get("/v2/team/app/manifests/b").twice().reply(401, denied, { "www-authenticate": BEARER });

    const client = testClient();
    await client.getManifest(APP, "a");
    const error = await registryError(client.getManifest(APP, "b"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain("requested access to the resource is denied");
    expect(error.message).toContain(`docker login ${HOST}`);
    expect(client.stats().tokenRequests).toBe(2);
  });

  it("authenticates when the ping needed none but the repository does", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN, { badheaders: ["authorization"] }).head("/v2/team/app/manifests/a").reply(401, "", { "www-authenticate": BEARER });
    nock(AUTH).get("/token").query(true).reply(200, { token: "t1" });
    nock(ORIGIN).matchHeader("authorization", "Bearer t1").head("/v2/team/app/manifests/a").reply(200, "", manifestHeaders(img.manifest));
    await expect(testClient().headManifest(APP, "a")).resolves.toMatchObject({ digest: img.manifest.digest });
  });

  it("names the token service and the registry's reason when a token is refused", async () => {
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": BEARER });
    nock(AUTH).get("/token").query(true).reply(401, { details: "incorrect username or password" });
    const client = testClient({ credentials: staticCredentials({ [HOST]: { kind: "basic", username: "ann", password: "wrong-password" } }) });
    const error = await registryError(client.headManifest(APP, "a"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain("auth.example.test");
    expect(error.message).toContain("incorrect username or password");
    expect(error.message).not.toContain("wrong-password");
  });

  it("exchanges an identity token at the realm with an OAuth2 refresh_token POST", async () => {
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": BEARER });
    let form: URLSearchParams | undefined;
    nock(AUTH)
      .post("/token", (body: string) => {
        form = new URLSearchParams(body);
        return true;
      })
      .reply(200, { access_token: "from-refresh", expires_in: 300 });
    nock(ORIGIN).matchHeader("authorization", "Bearer from-refresh").head("/v2/team/app/manifests/a").reply(200, "", manifestHeaders(img.manifest));

    const client = testClient({ credentials: staticCredentials({ [HOST]: { kind: "identity-token", token: "refresh-me" } }) });
    await client.headManifest(APP, "a");
    expect(Object.fromEntries(form!)).toMatchObject({ grant_type: "refresh_token", refresh_token: "refresh-me", service: HOST, scope: SCOPE });
  });

  it("does not resend the identity token when the realm redirects its POST to another host", async () => {
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": BEARER });
    nock(AUTH).post("/token").reply(307, "", { location: "https://collector.example.test/token" });
    const collector = nock("https://collector.example.test").post("/token").reply(200, { token: "stolen" });

    const client = testClient({ credentials: staticCredentials({ [HOST]: { kind: "identity-token", token: "refresh-me" } }) });
    const error = await registryError(client.headManifest(APP, "a"));
    expect(error.code).toBe("BAD_RESPONSE");
    expect(error.message).toContain("collector.example.test");
    expect(error.message).not.toContain("refresh-me");
    expect(collector.isDone()).toBe(false);
    nock.cleanAll();
  });
});

describe("Basic auth", () => {
  it("sends the credentials straight to the registry when it asks for Basic", async () => {
    const img = image(AMD64);
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": 'Basic realm="Registry Realm"' });
    nock(ORIGIN)
      .matchHeader("authorization", `Basic ${Buffer.from("bob:pa:ss").toString("base64")}`)
      .head("/v2/team/app/manifests/1.0")
      .reply(200, "", manifestHeaders(img.manifest));
    const client = testClient({ credentials: staticCredentials({ [HOST]: { kind: "basic", username: "bob", password: "pa:ss" } }) });
    await expect(client.headManifest(APP, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
    expect(client.stats().tokenRequests).toBe(0);
  });

  it("says UNAUTHORIZED with a login hint when there are no credentials", async () => {
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": 'Basic realm="Registry Realm"' });
    nock(ORIGIN).get("/v2/team/app/manifests/1.0").reply(401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }, {
      "www-authenticate": 'Basic realm="Registry Realm"',
    });
    const error = await registryError(testClient().getManifest(APP, "1.0"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain("authentication required");
  });
});
