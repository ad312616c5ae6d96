import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { ProbotOctokit } from "probot";
import { errorLine } from "../errors/error-line.js";
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
    const response = await octokit
      .request("GET /repos/{owner}/{repo}/tarball/{ref}", { ...target, request: { parseSuccessResponseBody: false } })
      .catch((error: unknown) => {
        // Octokit's error holds the URL GitHub redirected to, whose query carries a one-time download token: a new
        // error with the status only, so that the token never reaches a log line or a reply.
        const status = (error as { status?: unknown }).status;
        throw new Error(
          `GitHub could not send the archive of ${target.owner}/${target.repo}@${target.ref}: ${typeof status === "number" ? `HTTP ${status}, ` : ""}${errorLine(error, 200)}`,
        );
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
