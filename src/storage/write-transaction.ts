/**
 * Write transactions that take the write lock first. SQLite's `BEGIN` is deferred: a
 * transaction that reads, then writes can fail with `SQLITE_BUSY` when another connection wrote
 * in between. So a write transaction starts with a no-op write (`BEGIN IMMEDIATE` in effect) and,
 * when the database is busy, is retried after a short asynchronous pause — never a synchronous
 * busy-wait that would stall the event loop of a process holding the lock elsewhere — for up to
 * `busyTimeoutMs` (`BusyTimeout`); then it fails with `SQLITE_BUSY` (the request answers 503).
 * PostgreSQL needs neither (row and advisory locks wait inside the server).
 */
import { SqlClient } from "@effect/sql";
import type { SqlError } from "@effect/sql/SqlError";
import { Context, Duration, Effect, Schedule } from "effect";

/** How long a write waits, retrying, for another connection's SQLite write lock (`busyTimeoutMs`). */
export class BusyTimeout extends Context.Reference<BusyTimeout>()("authmachines/BusyTimeout", {
  defaultValue: (): Duration.Duration => Duration.seconds(10),
}) {}

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

/** Short, jittered pauses for up to `wait`. */
export const busyRetry = (wait: Duration.Duration) =>
  Schedule.exponential("2 millis", 1.5).pipe(Schedule.union(Schedule.spaced("40 millis")), Schedule.jittered, Schedule.upTo(wait));

/** `effect` retried while it fails with "database is locked" (and `also` holds), up to the `BusyTimeout`. */
export const retryWhileBusy = <A, E, R>(effect: Effect.Effect<A, E, R>, also: () => boolean = () => true) =>
  Effect.flatMap(BusyTimeout, (wait) => Effect.retry(effect, { schedule: busyRetry(wait), while: (error) => also() && isBusy(error) }));

/** Runs `effect` in a transaction that holds the write lock from its first statement. */
export const withWriteTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => retryWhileBusy(sql.withTransaction(Effect.zipRight(takeWriteLock, effect))));

/**
 * Runs `effect` in the caller's transaction when there is one, else in a write transaction of its
 * own. For an effect whose failure fails the caller's whole transaction anyway (a single
 * statement, a defect): it needs no savepoint of its own.
 */
export const inWriteTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (open) =>
    open._tag === "Some" ? effect : withWriteTransaction(effect),
  );
