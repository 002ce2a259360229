/** Rate-limit hits, one row each; counted over a sliding window. */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { lockKey } from "./locks.ts";
import { inWriteTransaction, withPromptTransaction, withWriteTransaction } from "./write-transaction.ts";

const sqlClient = SqlClient.SqlClient;

/**
 * Records a hit in `bucket` unless `amount` hits already fall in the window; true when allowed.
 * One statement: the count and the insert cannot be split by another writer (SQLite's write
 * lock; on PostgreSQL the bucket's advisory lock, taken first). Hits older than the window are
 * not counted; the sweep deletes them (`sweep.ts`).
 */
export const hitInTransaction = (bucket: string, amount: number, periodInMs: number, now: number) =>
  Effect.flatMap(sqlClient, (sql) =>
    Effect.zipRight(
      lockKey(`rate:${bucket}`),
      sql<{ at: number }>`INSERT INTO auth_rate_limit (bucket, at)
        SELECT CAST(${bucket} AS TEXT), CAST(${now} AS BIGINT)
        WHERE (SELECT COUNT(*) FROM auth_rate_limit WHERE bucket = ${bucket} AND at > ${now - periodInMs}) < ${amount}
        RETURNING at`,
    ),
  ).pipe(
    Effect.map((rows) => rows.length > 0),
    Effect.orDie,
  );

/**
 * `hitInTransaction` inside the caller's transaction when there is one (no savepoint: it is one
 * statement), else in a write transaction of its own.
 */
export const hitRateLimit = (bucket: string, amount: number, periodInMs: number, now: number) =>
  inWriteTransaction(hitInTransaction(bucket, amount, periodInMs, now)).pipe(Effect.orDie);

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

/** A hit taken to be given back: found by its bucket's `(bucket, at)` index, told apart by its id. */
export interface TakenHit {
  readonly bucket: string;
  readonly at: number;
  readonly id: string;
}

export interface HitCheck {
  readonly bucket: string;
  readonly amount: number;
  readonly periodInMs: number;
}

/**
 * Takes one hit from every bucket, all or nothing, in one transaction (buckets locked on
 * PostgreSQL): null when any bucket is already full, else the recorded hits. Its
 * commit does not wait for the disk (`withPromptTransaction`): the step after the hash commits
 * durably and carries it there.
 *
 * `edge` are the request's own limits (the `login` limit), taken first in the same transaction
 * and kept whatever the checks say, as a hit committed before them would be: "limited" when one
 * of them is full (nothing is taken then).
 */
export const takeHits = (checks: ReadonlyArray<HitCheck>, now: number, newId: () => string, edge: ReadonlyArray<HitCheck> = []) =>
  Effect.flatMap(sqlClient, (sql) =>
    withPromptTransaction(
      Effect.gen(function* () {
        if (!(yield* hitsInTransaction(edge, now))) {
          // A full edge bucket answers 429 and takes nothing (the edge hits before it are undone).
          return yield* Effect.fail(new EdgeLimited());
        }
        if (checks.length === 0) {
          return [] as Array<TakenHit>;
        }
        for (const check of checks) {
          yield* lockKey(`rate:${check.bucket}`);
        }
        // One statement: a hit per bucket, inserted only when every check's window has room
        // (each count is taken before the insert, as a SELECT before it would take it).
        const room = checks.map(
          (check) => sql`(SELECT COUNT(*) FROM auth_rate_limit WHERE bucket = ${check.bucket} AND at > ${now - check.periodInMs}) < ${check.amount}`,
        );
        const hits = [...new Set(checks.map((check) => check.bucket))].map((bucket) => ({ bucket, at: now, id: newId() }));
        const rows = sql.csv(hits.map((hit) => sql`(CAST(${hit.bucket} AS TEXT), CAST(${hit.at} AS BIGINT), CAST(${hit.id} AS TEXT))`));
        const taken = yield* sql<{ id: string }>`INSERT INTO auth_rate_limit (bucket, at, id)
          SELECT column1, column2, column3 FROM (VALUES ${rows}) AS hit
          WHERE ${sql.and(room)}
          RETURNING id`;
        return taken.length === 0 ? null : (hits satisfies Array<TakenHit>);
      }),
    ),
  ).pipe(
    Effect.catchTag("EdgeLimited", () => Effect.succeed("limited" as const)),
    Effect.orDie,
  );

class EdgeLimited {
  readonly _tag = "EdgeLimited";
}

/**
 * Gives hits back in the caller's transaction (a successful login returns its attempt as its step
 * commits). Each is found through the `(bucket, at)` index, the one every count uses, so no index
 * of its own is written with every hit.
 */
export const releaseHitsInTransaction = (hits: ReadonlyArray<TakenHit>) =>
  Effect.flatMap(sqlClient, (sql) =>
    hits.length === 0
      ? Effect.void
      : Effect.asVoid(
          sql`DELETE FROM auth_rate_limit WHERE ${sql.or(
            hits.map((hit) => sql`(bucket = ${hit.bucket} AND at = ${hit.at} AND id = ${hit.id})`),
          )}`,
        ),
  ).pipe(Effect.orDie);

/** Gives hits back in a transaction of their own. */
export const releaseHits = (hits: ReadonlyArray<TakenHit>) =>
  hits.length === 0 ? Effect.void : withWriteTransaction(releaseHitsInTransaction(hits)).pipe(Effect.orDie);
