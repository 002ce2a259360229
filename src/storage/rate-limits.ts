/** Rate-limit hits, one row each; counted over a sliding window. */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { lockKey } from "./locks.ts";
import { withWriteTransaction } from "./write-transaction.ts";

const sqlClient = SqlClient.SqlClient;

/**
 * Records a hit in `bucket` unless `amount` hits already fall in the window; true when allowed.
 * Runs in its own transaction so the count and the insert are one step.
 */
export const hitRateLimit = (bucket: string, amount: number, periodInMs: number, now: number) =>
  Effect.flatMap(sqlClient, (sql) =>
    withWriteTransaction(
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
    ),
  ).pipe(Effect.orDie);

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
 */
export const takeHits = (checks: ReadonlyArray<HitCheck>, now: number, newId: () => string) =>
  Effect.flatMap(sqlClient, (sql) =>
    withWriteTransaction(
      Effect.gen(function* () {
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
  ).pipe(Effect.orDie);

/** Gives hits back (a successful login returns the attempt it took). */
export const releaseHits = (ids: ReadonlyArray<string>) =>
  Effect.flatMap(sqlClient, (sql) =>
    ids.length === 0
      ? Effect.void
      : withWriteTransaction(Effect.asVoid(sql`DELETE FROM auth_rate_limit WHERE ${sql.in("id", ids)}`)),
  ).pipe(Effect.orDie);
