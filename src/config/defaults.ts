import type { DigestaConfig } from "./schema.js";

/** Where digesta reads a repository's configuration (and, through Probot's loader, the organisation's `.github` repository). */
export const CONFIG_PATH = ".github/digesta.yml";

/**
 * The configuration of a repository without a file: what the schema makes of `{}` (a test holds the two equal),
 * written out so that a command line run without a configuration file does not load the schema's validators.
 */
export const DEFAULT_CONFIG: DigestaConfig = Object.freeze({
  enabled: true,
  paths: { include: ["**"], exclude: [] },
  ignore: [],
  schedule: "daily",
  group: "all",
  pin: false,
  labels: [],
  reviewers: [],
  teamReviewers: [],
  diff: { enabled: true, platform: { os: "linux", architecture: "amd64" } },
  cooldown: 0,
  verify: { required: false, images: [] },
});
