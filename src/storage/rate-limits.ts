/** Rate-limit hits, one row each; counted over a sliding window. */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { lockKey } from "./locks.ts";
import { withWriteTransaction } from "./write-transaction.ts";

const sqlClient = SqlClient.SqlClient;

/**
 * Records a hit in `bucket` unless `amount` hits already fall in the window; true when allowed.
 * Runs inside the caller's write transaction (the bucket is locked on PostgreSQL).
 */
export const hitInTransaction = (bucket: string, amount: number, periodInMs: number, now: number) =>
  Effect.flatMap(sqlClient, (sql) =>
    Effect.gen(function* () {
      yield* lockKey(`rate:${bucket}`);
      yield* sql`DELETE FROM auth_rate_limit WHERE bucket = ${bucket} AND at <= ${now - periodInMs}`;
      const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM auth_rate_limit WHERE bucket = ${bucket}`;
      if (Number(rows[0]?.n ?? 0) >= amount) {
        return false;
      }
      yield* sql`INSERT INTO auth_rate_limit (bucket, at) VALUES (${bucket}, ${now})`;
      return true;
    }),
  ).pipe(Effect.orDie);

/** `hitInTransaction` in a transaction of its own, so the count and the insert are one step. */
export const hitRateLimit = (bucket: string, amount: number, periodInMs: number, now: number) =>
  withWriteTransaction(hitInTransaction(bucket, amount, periodInMs, now)).pipe(Effect.orDie);

/** One hit of each check, in the caller's transaction, stopping at the first full bucket; true when all were allowed. */
export const hitsInTransaction = (checks: ReadonlyArray<HitCheck>, now: number) =>
  Effect.gen(function* () {
    for (const check of checks) {
      if (!(yield* hitInTransaction(check.bucket, check.amount, check.periodInMs, now))) {
        return false;
      }
    }
    return true;
  });

/** True when `bucket` already holds `amount` hits in the window (nothing recorded). */
export const isRateLimited = (bucket: string, amount: number, periodInMs: number, now: number) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<{ n: number }>`SELECT COUNT(*) AS n FROM auth_rate_limit WHERE bucket = ${bucket} AND at > ${now - periodInMs}`,
  ).pipe(
    Effect.map((rows) => Number(rows[0]?.n ?? 0) >= amount),
    Effect.orDie,
  );

export const recordRateLimitHit = (bucket: string, now: number) =>
  Effect.flatMap(sqlClient, (sql) => sql`INSERT INTO auth_rate_limit (bucket, at) VALUES (${bucket}, ${now})`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );

export const clearRateLimit = (bucket: string) =>
  Effect.flatMap(sqlClient, (sql) => sql`DELETE FROM auth_rate_limit WHERE bucket = ${bucket}`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );

export interface HitCheck {
  readonly bucket: string;
  readonly amount: number;
  readonly periodInMs: number;
}

/**
 * Takes one hit from every bucket, all or nothing, in one transaction (buckets locked on
 * PostgreSQL): null when any bucket is already full, else the ids of the recorded hits.
 *
 * `edge` are the request's own limits (the `login` limit), taken first in the same transaction
 * and kept whatever the checks say, as a hit committed before them would be: "limited" when one
 * of them is full (nothing is taken then).
 */
export const takeHits = (checks: ReadonlyArray<HitCheck>, now: number, newId: () => string, edge: ReadonlyArray<HitCheck> = []) =>
  Effect.flatMap(sqlClient, (sql) =>
    withWriteTransaction(
      Effect.gen(function* () {
        if (!(yield* hitsInTransaction(edge, now))) {
          // A full edge bucket answers 429 and takes nothing (the edge hits before it are undone).
          return yield* Effect.fail(new EdgeLimited());
        }
        for (const check of checks) {
          yield* lockKey(`rate:${check.bucket}`);
          yield* sql`DELETE FROM auth_rate_limit WHERE bucket = ${check.bucket} AND at <= ${now - check.periodInMs}`;
          const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM auth_rate_limit WHERE bucket = ${check.bucket}`;
          if (Number(rows[0]?.n ?? 0) >= check.amount) {
            return null;
          }
        }
        const ids: Array<string> = [];
        for (const bucket of new Set(checks.map((check) => check.bucket))) {
          const id = newId();
          yield* sql`INSERT INTO auth_rate_limit (bucket, at, id) VALUES (${bucket}, ${now}, ${id})`;
          ids.push(id);
        }
        return ids;
      }),
    ),
  ).pipe(
    Effect.catchTag("EdgeLimited", () => Effect.succeed("limited" as const)),
    Effect.orDie,
  );

class EdgeLimited {
  readonly _tag = "EdgeLimited";
}

/** Gives hits back in the caller's transaction (a successful login returns its attempt as its step commits). */
export const releaseHitsInTransaction = (ids: ReadonlyArray<string>) =>
  Effect.flatMap(sqlClient, (sql) =>
    ids.length === 0 ? Effect.void : Effect.asVoid(sql`DELETE FROM auth_rate_limit WHERE ${sql.in("id", ids)}`),
  ).pipe(Effect.orDie);

/** Gives hits back in a transaction of their own. */
export const releaseHits = (ids: ReadonlyArray<string>) =>
  ids.length === 0 ? Effect.void : withWriteTransaction(releaseHitsInTransaction(ids)).pipe(Effect.orDie);
