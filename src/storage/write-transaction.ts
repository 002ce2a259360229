/**
 * Write transactions that take the write lock first. SQLite's `BEGIN` is deferred: a
 * transaction that reads, then writes can fail with `SQLITE_BUSY` when another connection wrote
 * in between. So a write transaction starts with a no-op write (`BEGIN IMMEDIATE` in effect) and,
 * when the database is busy, is retried after a short asynchronous pause — never a synchronous
 * busy-wait that would stall the event loop of a process holding the lock elsewhere.
 * PostgreSQL needs neither (row and advisory locks wait inside the server).
 */
import { SqlClient } from "@effect/sql";
import type { SqlError } from "@effect/sql/SqlError";
import { Effect, Schedule } from "effect";

/** A no-op write: on SQLite it takes the write lock of the current transaction. */
export const takeWriteLock: Effect.Effect<void, SqlError, SqlClient.SqlClient> = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.onDialectOrElse({
    sqlite: () => Effect.asVoid(sql`DELETE FROM auth_migrations WHERE 0 = 1`),
    orElse: () => Effect.void,
  }),
);

/** Whether a failure is SQLite's "database is locked". */
export function isBusy(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === "string" && cause.code.startsWith("SQLITE_BUSY");
}

/** Up to about ten seconds of short, jittered pauses. */
export const busyRetry = Schedule.exponential("2 millis", 1.5).pipe(
  Schedule.union(Schedule.spaced("40 millis")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(250)),
);

/** Runs `effect` in a transaction that holds the write lock from its first statement. */
export const withWriteTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.withTransaction(Effect.zipRight(takeWriteLock, effect)).pipe(Effect.retry({ schedule: busyRetry, while: isBusy })),
  );
