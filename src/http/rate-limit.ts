/**
 * Rate limits an endpoint answers to before its flow (allauth's `rate_limit` decorator): a spent
 * limit answers 429 and runs nothing. A request that runs a step owes its hits to the step, which
 * takes them in its own transaction (`Step.takeOwedHits`); the others take them here.
 */
import { Clock, Effect } from "effect";
import type { ResolvedConfig } from "../config.ts";
import { rateLimitIp } from "../domain/ip.ts";
import type { AppRuntime } from "../runtime/step.ts";
import type { HitCheck } from "../storage/rate-limits.ts";
import { hitsInTransaction, isRateLimited } from "../storage/rate-limits.ts";
import { withWriteTransaction } from "../storage/write-transaction.ts";

type LimitKeys = { readonly ip: string; readonly key?: string; readonly user?: string };

/** The hits one request of `action` takes, one per configured rule. */
export function edgeHits(config: ResolvedConfig, action: string, keys: LimitKeys): ReadonlyArray<HitCheck> {
  return (config.account.rateLimits[action] ?? []).flatMap((rule) => {
    const value = rule.scope === "ip" ? rateLimitIp(keys.ip) : keys[rule.scope];
    return value === undefined ? [] : [{ bucket: `${action}:${rule.scope}:${value}`, amount: rule.amount, periodInMs: rule.periodInSeconds * 1000 }];
  });
}

/** Takes `hits` in one transaction of their own; false when a bucket is full (the hits before it stay). */
export function takeEdgeHits(runtime: AppRuntime, hits: ReadonlyArray<HitCheck>): Promise<boolean> {
  if (hits.length === 0) {
    return Promise.resolve(true);
  }
  return runtime.runPromise(
    withWriteTransaction(Effect.flatMap(Clock.currentTimeMillis, (now) => hitsInTransaction(hits, now))).pipe(Effect.orDie),
  );
}

/** Records one hit of `action` for each of its rules; false when any rule is exhausted. */
export function consume(runtime: AppRuntime, config: ResolvedConfig, action: string, keys: LimitKeys): Promise<boolean> {
  return takeEdgeHits(runtime, edgeHits(config, action, keys));
}

/**
 * Whether one of `hits` finds its bucket full already: a read, nothing recorded. A step that
 * hashes before it takes its owed hits asks first, so a spent limit costs no hash.
 */
export function spent(runtime: AppRuntime, hits: ReadonlyArray<HitCheck>): Promise<boolean> {
  if (hits.length === 0) {
    return Promise.resolve(false);
  }
  return runtime.runPromise(
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.reduce(hits, false, (full, hit) => (full ? Effect.succeed(true) : isRateLimited(hit.bucket, hit.amount, hit.periodInMs, now))),
    ),
  );
}
