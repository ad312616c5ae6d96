import { CronExpressionParser } from "cron-parser";
import { z } from "zod";
import type { Platform } from "../reference/types.js";
import type { VerifySettings } from "../verify/rules.js";
import { verifySettingsSchema } from "../verify/rules-schema.js";

export { CONFIG_PATH, DEFAULT_CONFIG } from "./defaults.js";

const DURATION = /^(\d{1,4})\s*(m|h|d|w)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `30m`, `12h`, `3d`, `2w` → milliseconds; `0` → 0. Undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  const match = DURATION.exec(trimmed);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** `linux/amd64`, `linux/arm64/v8` → Platform. Undefined when the text is not one. */
export function parsePlatform(text: string): Platform | undefined {
  const match = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/.exec(text.trim());
  if (!match) return undefined;
  return { os: match[1]!, architecture: match[2]!, ...(match[3] ? { variant: match[3] } : {}) };
}

/** True when `text` is a five-field cron expression cron-parser accepts (`H` allowed: spread per repository). */
export function isCronExpression(text: string): boolean {
  if (text.trim().split(/\s+/).length !== 5) return false;
  try {
    CronExpressionParser.parse(text, { tz: "UTC", hashSeed: "check" });
    return true;
  } catch {
    return false;
  }
}

// fast-glob / picomatch patterns: short, no NUL, not absolute, no parent traversal.
const pattern = z
  .string()
  .min(1)
  .max(512)
  .refine((p) => !p.includes("\0") && !p.startsWith("/") && !p.split("/").includes(".."), {
    message: "must be a relative glob without `..`",
  });

const login = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const team = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

/**
 * `.github/digesta.yml`. Unknown keys are errors (a typo should not silently do nothing); every field has a default,
 * so an empty or missing file means "on, everything, daily, one pull request".
 */
export const configSchema = z.strictObject({
  enabled: z.boolean().default(true),
  paths: z
    .strictObject({
      include: z.array(pattern).max(100).default(["**"]),
      exclude: z.array(pattern).max(100).default([]),
    })
    .prefault({}),
  /** picomatch globs on normalised names: `docker.io/library/*`, `cgr.dev/chainguard/**`, `ghcr.io/org/app:edge`. */
  ignore: z.array(pattern).max(200).default([]),
  schedule: z
    .string()
    .refine((s) => s === "daily" || s === "weekly" || isCronExpression(s), {
      message: "must be `daily`, `weekly` or a five-field cron expression such as `0 6 * * 1`",
    })
    .default("daily"),
  group: z.enum(["all", "image"]).default("all"),
  /** Also open one pull request pinning the references written with a tag and no digest. */
  pin: z.boolean().default(false),
  labels: z.array(z.string().min(1).max(50)).max(20).default([]),
  reviewers: z
    .array(
      z
        .string()
        .transform((s) => s.replace(/^@/, ""))
        .refine((s) => login.test(s) || team.test(s), { message: "must be a user login or `org/team-slug`" }),
    )
    .max(15)
    .default([]),
  diff: z
    .strictObject({
      enabled: z.boolean().default(true),
      platform: z
        .string()
        .refine((s) => parsePlatform(s) !== undefined, { message: "must be `os/architecture[/variant]`, e.g. `linux/amd64`" })
        .default("linux/amd64"),
    })
    .prefault({}),
  /** Minimum age of a new digest before it is proposed: `0`, `12h`, `3d`, `1w`. */
  cooldown: z
    .union([z.string(), z.number().int().min(0).transform(String)])
    .refine((s) => parseDuration(s) !== undefined, { message: "must be a duration such as `12h`, `3d` or `1w` (or `0`)" })
    .default("0"),
  /** Signature checks on each new digest before it is proposed. */
  verify: verifySettingsSchema,
});

export type DigestaConfigInput = z.input<typeof configSchema>;

/** A validated configuration, with durations and platforms parsed. */
export interface DigestaConfig {
  readonly enabled: boolean;
  readonly paths: { readonly include: readonly string[]; readonly exclude: readonly string[] };
  readonly ignore: readonly string[];
  readonly schedule: string;
  readonly group: "all" | "image";
  /** Open the pull request pinning references written without a digest. */
  readonly pin: boolean;
  readonly labels: readonly string[];
  /** User logins. */
  readonly reviewers: readonly string[];
  /** Team slugs (from `org/team` entries). */
  readonly teamReviewers: readonly string[];
  readonly diff: { readonly enabled: boolean; readonly platform: Platform };
  /** Milliseconds. */
  readonly cooldown: number;
  readonly verify: VerifySettings;
}

/** Turns the schema's output into the shape the app uses. */
export function toDigestaConfig(parsed: z.output<typeof configSchema>): DigestaConfig {
  return {
    enabled: parsed.enabled,
    paths: parsed.paths,
    ignore: parsed.ignore,
    schedule: parsed.schedule,
    group: parsed.group,
    pin: parsed.pin,
    labels: [...new Set(parsed.labels)],
    reviewers: [...new Set(parsed.reviewers.filter((r) => !r.includes("/")))],
    teamReviewers: [...new Set(parsed.reviewers.filter((r) => r.includes("/")).map((r) => r.split("/")[1]!))],
    diff: { enabled: parsed.diff.enabled, platform: parsePlatform(parsed.diff.platform)! },
    cooldown: parseDuration(parsed.cooldown)!,
    verify: parsed.verify,
  };
}
