/** Rate limits checked at the edge, before a step: a breach answers 429 and runs no flow. */
import { Clock, Effect } from "effect";
import type { ResolvedConfig } from "../config.ts";
import { rateLimitIp } from "../domain/ip.ts";
import type { AppRuntime } from "../runtime/step.ts";
import type { HitCheck } from "../storage/rate-limits.ts";
import { hitRateLimit } from "../storage/rate-limits.ts";

/** Records one hit of `action` for each of its rules; false when any rule is exhausted. */
export async function consume(
  runtime: AppRuntime,
  config: ResolvedConfig,
  action: string,
  keys: { readonly ip: string; readonly key?: string; readonly user?: string },
): Promise<boolean> {
  const rules = config.account.rateLimits[action] ?? [];
  return runtime.runPromise(
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis;
      for (const rule of rules) {
        const value = rule.scope === "ip" ? rateLimitIp(keys.ip) : keys[rule.scope];
        if (value === undefined) {
          continue;
        }
        const allowed = yield* hitRateLimit(`${action}:${rule.scope}:${value}`, rule.amount, rule.periodInSeconds * 1000, now);
        if (!allowed) {
          return false;
        }
      }
      return true;
    }),
  );
}

/** The hits `consume` would take for `action`, as checks a step takes in its own transaction. */
export function edgeHits(
  config: ResolvedConfig,
  action: string,
  keys: { readonly ip: string; readonly key?: string; readonly user?: string },
): ReadonlyArray<HitCheck> {
  return (config.account.rateLimits[action] ?? []).flatMap((rule) => {
    const value = rule.scope === "ip" ? rateLimitIp(keys.ip) : keys[rule.scope];
    return value === undefined ? [] : [{ bucket: `${action}:${rule.scope}:${value}`, amount: rule.amount, periodInMs: rule.periodInSeconds * 1000 }];
  });
}
