import { z } from "zod";
import { MAX_PATTERN, signerProblems } from "./rules.js";

const imageGlob = z
  .string()
  .min(1)
  .max(512)
  .refine((p) => !p.includes("\0") && !p.includes("@"), { message: "must be an image name glob such as `cgr.dev/chainguard/**`" });

/** `verify.images[]` in `.github/digesta.yml` and in a `--verify-config` file. */
export const signerRuleSchema = z
  .strictObject({
    match: imageGlob,
    key: z.string().max(16 * 1024).optional(),
    identity: z.string().min(1).max(MAX_PATTERN).optional(),
    identityRegexp: z.string().min(1).max(MAX_PATTERN).optional(),
    issuer: z.string().min(1).max(MAX_PATTERN).optional(),
    issuerRegexp: z.string().min(1).max(MAX_PATTERN).optional(),
  })
  .superRefine((rule, context) => {
    for (const { message, field } of signerProblems(rule)) context.addIssue({ code: "custom", message, path: [field] });
  });

/** `verify:` in `.github/digesta.yml`, and the whole of a `--verify-config` file. */
export const verifySettingsSchema = z
  .strictObject({
    required: z.boolean().default(false),
    images: z.array(signerRuleSchema).max(100).default([]),
  })
  .prefault({});

