/**
 * allauth's `login_failed` limiter, shared by every route that checks a password (login,
 * reauthentication): hits per client IP (its /64 for IPv6) and per account — or per login key
 * while the key names no account — taken before hashing, given back on success, cleared by a
 * password reset.
 */
import { Clock, Effect } from "effect";
import type { ResolvedConfig } from "../config.ts";
import { rateLimitIp } from "../domain/ip.ts";
import type { Step } from "../runtime/step.ts";
import { Tokens } from "../services/tokens.ts";
import { clearRateLimit, takeHits } from "../storage/rate-limits.ts";
import type { TakenHit } from "../storage/rate-limits.ts";
import type { UserRow } from "../storage/users.ts";

export interface FailureBucket {
  readonly scope: "ip" | "key";
  readonly bucket: string;
}

/**
 * The per-key bucket of an account: its email, username and every added address share one
 * budget (SECURITY.md TH-01; issue #10 finding 6). No login key has a colon, so none collides.
 */
export const accountFailureKey = (userId: string): string => `account:${userId}`;

/** The buckets of one attempt; `key` must already be canonical (lower-cased, cleaned). */
export function loginFailureBuckets(ip: string, key: string): ReadonlyArray<FailureBucket> {
  return [
    { scope: "ip", bucket: `login_failed:ip:${rateLimitIp(ip)}` },
    { scope: "key", bucket: `login_failed:key:${key}` },
  ];
}

/**
 * Takes one attempt from every `loginFailed` bucket before the password is checked, atomically,
 * so concurrent guesses cannot all pass the check (SECURITY.md TH-03): null when a limit is
 * reached (nothing taken). Runs in its own short transaction, never around the hash, which also
 * takes the request's owed edge hits (`step.owedHits`, the `login` limit): "limited" when one of
 * those is full (nothing taken; `step.edgeLimited` is set and the request answers 429).
 */
export function takeLoginAttempt(
  step: Step,
  config: ResolvedConfig,
  buckets: ReadonlyArray<FailureBucket>,
): Promise<ReadonlyArray<TakenHit> | null | "limited"> {
  const rules = config.account.rateLimits["loginFailed"] ?? [];
  const checks = rules.flatMap((rule) =>
    buckets
      .filter((b) => b.scope === rule.scope)
      .map((b) => ({ bucket: b.bucket, amount: rule.amount, periodInMs: rule.periodInSeconds * 1000 })),
  );
  const edge = step.owedHits;
  step.owedHits = [];
  if (checks.length === 0 && edge.length === 0) {
    // Every limit off: nothing to take.
    return Promise.resolve([]);
  }
  return step
    .run(
      Effect.gen(function* () {
        const tokens = yield* Tokens;
        const now = yield* Clock.currentTimeMillis;
        return yield* takeHits(checks, now, tokens.id, edge);
      }),
    )
    .then((taken) => {
      if (taken === "limited") {
        step.edgeLimited = true;
      }
      return taken;
    });
}

/**
 * A correct password gives back the attempt it took (allauth rolls back its own hit): in the
 * step's transaction as it commits (`Step.commit`), so it opens none now — the caller may still
 * have a password to hash — and costs no commit of its own.
 */
export function returnLoginAttempt(step: Step, hits: ReadonlyArray<TakenHit>): void {
  step.hitsToGiveBack.push(...hits);
}

/** Clears the per-key buckets of these keys (a password reset clears its account's). */
export const clearLoginFailures = (keys: ReadonlyArray<string>) =>
  Effect.forEach(keys, (key) => clearRateLimit(`login_failed:key:${key}`), { discard: true });

/**
 * Checks a logged-in user's password (reauthentication, password change) under the account's
 * limiter, the one a login naming the account uses, so guesses through any route count together
 * (SECURITY.md TH-06).
 */
export async function checkAccountPassword(
  step: Step,
  config: ResolvedConfig,
  user: UserRow,
  password: string,
): Promise<"ok" | "wrong" | "throttled"> {
  const buckets = loginFailureBuckets(step.request.ip, accountFailureKey(user.id));
  const attempt = await takeLoginAttempt(step, config, buckets);
  const event = { action: "password_check", method: "password", userId: user.id, identifier: null } as const;
  if (attempt === null || attempt === "limited") {
    step.authEvents.push({ ...event, outcome: "throttled" });
    return "throttled";
  }
  if (!(await step.verifyPassword(user.password, password))) {
    step.authEvents.push({ ...event, outcome: "failure" });
    return "wrong";
  }
  step.authEvents.push({ ...event, outcome: "success" });
  returnLoginAttempt(step, attempt);
  return "ok";
}
