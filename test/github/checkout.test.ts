import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { inspect } from "node:util";
import { ProbotOctokit } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { downloadCheckout } from "../../src/github/checkout.js";
import { GitHubFake } from "../support/github-fake.js";

describe("downloadCheckout", () => {
  let fake: GitHubFake;
  beforeEach(() => {
    fake = new GitHubFake();
    fake.install();
    fake.addInstallation(1, "octo");
    fake.addToken("ghp_checkout");
    fake.createRepository("octo", "app", { "Dockerfile": "FROM x\n", "deploy/k8s/app.yaml": "image: y\n", "run.sh": "#!/bin/sh\n" }, { installationId: 1, executable: ["run.sh"] });
  });
  afterEach(() => fake.uninstall());

  it("fetches the commit as one tarball, follows GitHub's redirect without sending the token on, and unpacks it", async () => {
    const octokit = new ProbotOctokit({ auth: { token: "ghp_checkout" }, retry: { enabled: false }, throttle: { enabled: false } });
    const head = fake.branchHead("octo", "app", "main")!;
    const checkout = await downloadCheckout(octokit, { owner: "octo", repo: "app", ref: head });
    try {
      expect(await readFile(path.join(checkout.root, "deploy/k8s/app.yaml"), "utf8")).toBe("image: y\n");
      expect(await readFile(path.join(checkout.root, "Dockerfile"), "utf8")).toBe("FROM x\n");
      expect(checkout.summary.files).toBe(3);
      expect([...checkout.summary.executable]).toEqual(["run.sh"]);
      const archiveRequests = fake.requests.filter((r) => r.path.includes("tarball") || r.host === "codeload.github.com");
      expect(archiveRequests.map((r) => r.host)).toEqual(["api.github.com", "codeload.github.com"]);
      expect(archiveRequests[1]!.authorization).toBeUndefined();
    } finally {
      await checkout.dispose();
    }
    await expect(stat(checkout.root)).rejects.toThrow();
  });

  it("fails without the redirect's one-time token anywhere in the error (it would reach logs and replies)", async () => {
    const octokit = new ProbotOctokit({ auth: { token: "ghp_checkout" }, retry: { enabled: false }, throttle: { enabled: false } });
    fake.codeloadFailure = 503;
    const error = await downloadCheckout(octokit, { owner: "octo", repo: "app", ref: "main" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/archive of octo\/app@main: HTTP 503/);
    const [token] = [...fake.codeloadTokens];
    expect(token).toBeDefined();
    const seen = JSON.stringify(error, Object.getOwnPropertyNames(error)) + inspect(error, { depth: 10 });
    expect(seen).not.toContain(token);
    expect(seen).not.toContain("ghp_checkout");
  });
});
