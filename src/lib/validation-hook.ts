import type { Hook } from "@hono/zod-openapi";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { z } from "zod";
import type { AppEnv } from "../types";
import { ApiError, type FieldIssue } from "./errors";

type Issue = z.core.$ZodIssue;

const isDiscriminatorMiss = (issue: Issue) => issue.code === "invalid_union" && issue.errors.length === 0 && "note" in issue;

/**
 * Flattens zod issues into field-level details. For a union (our register body accepts two shapes)
 * it reports the branch the client evidently meant: the one that got past its discriminator with the
 * fewest problems; if none did, it reports every discriminator that could have matched.
 */
export function toFieldIssues(issues: readonly Issue[], prefix: PropertyKey[] = []): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // `branch.length === 1` is checked first, so `branch[0]` exists (noUncheckedIndexedAccess cannot see it).
      const branches = issue.errors.filter((branch) => !(branch.length === 1 && isDiscriminatorMiss(branch[0] as Issue)));
      const chosen = branches.length ? [branches.reduce((a, b) => (b.length < a.length ? b : a))] : issue.errors;
      for (const branch of chosen) out.push(...toFieldIssues(branch, path));
      continue;
    }
    // zod reports extra keys once, at their parent; name each one so a client sees which field was refused.
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({ field: [...path, key].map(String).join("."), message: "is not an accepted field", code: issue.code });
      }
      continue;
    }
    out.push({ field: path.map(String).join(".") || "(body)", message: issue.message, code: issue.code });
  }
  return out;
}

/** What the message calls each validation target, so a bad header is not reported as a bad body. */
const WHERE: Record<string, string> = {
  json: "request body",
  form: "request body",
  query: "query string",
  param: "path",
  header: "header",
  cookie: "cookie",
};

/** The zod-openapi validation hook: every schema failure becomes a 422 in the error envelope. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (!result.success) {
    const details = toFieldIssues(result.error.issues);
    // zod-openapi passes the validation target at run time; the shared `Hook` type does not declare it.
    const target = (result as { target?: string }).target;
    const where = WHERE[target ?? "json"] ?? "request";
    throw new ApiError(
      "VALIDATION_ERROR",
      `The ${where} is not valid: ${details.map((d) => `${d.field} ${d.message}`).join("; ")}`.slice(0, 500),
      {
        details,
      },
    );
  }
};

/** A router for one resource, with the shared validation hook already attached. */
export function newRouter() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}
