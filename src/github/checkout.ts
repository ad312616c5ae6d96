import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { ProbotOctokit } from "probot";
import { DEFAULT_EXTRACT_LIMITS, extractTarball, type ExtractLimits, type ExtractSummary } from "./tarball.js";

/** A repository's files at one commit, unpacked in a temporary folder; `dispose` removes it. */
export interface Checkout {
  readonly root: string;
  readonly summary: ExtractSummary;
  dispose(): Promise<void>;
}

/**
 * Downloads one commit of a repository as a single tarball (one API request, whatever the number of files) and
 * unpacks it safely into a new temporary folder.
 */
export async function downloadCheckout(
  octokit: ProbotOctokit,
  target: { readonly owner: string; readonly repo: string; readonly ref: string },
  limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS,
): Promise<Checkout> {
  const root = await mkdtemp(path.join(tmpdir(), "digesta-"));
  const dispose = () => rm(root, { recursive: true, force: true });
  try {
    const response = await octokit.request("GET /repos/{owner}/{repo}/tarball/{ref}", {
      ...target,
      request: { parseSuccessResponseBody: false },
    });
    const body = response.data as unknown as WebReadableStream<Uint8Array> | null;
    if (!body || typeof (body as { getReader?: unknown }).getReader !== "function") {
      throw new Error(`GitHub sent no archive for ${target.owner}/${target.repo}@${target.ref}`);
    }
    const summary = await extractTarball(Readable.fromWeb(body), root, limits);
    return { root, summary, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
