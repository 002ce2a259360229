/**
 * Rate limits that allauth checks inside a form (after the input's other checks) rather than at
 * the door: one hit of `action` per rule, taken inside the step; false when a rule is full.
 */
import { Clock, Effect } from "effect";
import type { ResolvedConfig } from "../config.ts";
import { rateLimitIp } from "../domain/ip.ts";
import { hitRateLimit } from "../storage/rate-limits.ts";

export const takeActionLimit = (
  config: ResolvedConfig,
  action: string,
  keys: { readonly ip: string; readonly key?: string; readonly user?: string },
) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis;
    for (const rule of config.account.rateLimits[action] ?? []) {
      const value = rule.scope === "ip" ? rateLimitIp(keys.ip) : keys[rule.scope];
      if (value === undefined) {
        continue;
      }
      if (!(yield* hitRateLimit(`${action}:${rule.scope}:${value}`, rule.amount, rule.periodInSeconds * 1000, now))) {
        return false;
      }
    }
    return true;
  });
