/**
 * allauth's `login_failed` limiter, shared by every route that checks a password (login,
 * reauthentication): hits per client IP and per login key, checked before hashing, recorded on
 * failure, cleared for a user's keys by a password reset.
 */
import { Clock, Effect } from "effect";
import type { ResolvedConfig } from "../config.ts";
import type { Step } from "../runtime/step.ts";
import { clearRateLimit, isRateLimited, recordRateLimitHit } from "../storage/rate-limits.ts";

export interface FailureBucket {
  readonly scope: "ip" | "key";
  readonly bucket: string;
}

/** The buckets of one attempt; `key` must already be canonical (lower-cased, cleaned). */
export function loginFailureBuckets(ip: string, key: string): ReadonlyArray<FailureBucket> {
  return [
    { scope: "ip", bucket: `login_failed:ip:${ip}` },
    { scope: "key", bucket: `login_failed:key:${key}` },
  ];
}

/** True when any `loginFailed` rule is exhausted for these buckets (nothing recorded). */
export function isLoginThrottled(step: Step, config: ResolvedConfig, buckets: ReadonlyArray<FailureBucket>): Promise<boolean> {
  const rules = config.account.rateLimits["loginFailed"] ?? [];
  return step.run(
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis;
      for (const rule of rules) {
        for (const { scope, bucket } of buckets) {
          if (scope === rule.scope && (yield* isRateLimited(bucket, rule.amount, rule.periodInSeconds * 1000, now))) {
            return true;
          }
        }
      }
      return false;
    }),
  );
}

export function recordLoginFailure(step: Step, buckets: ReadonlyArray<FailureBucket>): Promise<void> {
  return step.write(
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis;
      for (const { bucket } of buckets) {
        yield* recordRateLimitHit(bucket, now);
      }
    }),
  );
}

/** Clears the per-key buckets of these login keys (a password reset does this). */
export const clearLoginFailures = (keys: ReadonlyArray<string>) =>
  Effect.forEach(keys, (key) => clearRateLimit(`login_failed:key:${key}`), { discard: true });
