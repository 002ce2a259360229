/**
 * Write transactions that take the write lock first. SQLite's `BEGIN` is deferred: a
 * transaction that reads, then writes can fail with `SQLITE_BUSY` when another connection wrote
 * in between. So a write transaction starts with `BEGIN IMMEDIATE` on the reserved connection
 * and, when the database is busy, is retried after a short asynchronous pause — never a synchronous
 * busy-wait that would stall the event loop of a process holding the lock elsewhere — for up to
 * `busyTimeoutMs` (`BusyTimeout`); then it fails with `SQLITE_BUSY` (the request answers 503).
 * PostgreSQL needs neither (row and advisory locks wait inside the server).
 */
import { SqlClient } from "@effect/sql";
import type { Connection } from "@effect/sql/SqlConnection";
import type { SqlError } from "@effect/sql/SqlError";
import { Clock, Context, Duration, Effect, Exit, Runtime, Schedule, Scope, Tracer } from "effect";

/** How long a write waits, retrying, for another connection's SQLite write lock (`busyTimeoutMs`). */
export class BusyTimeout extends Context.Reference<BusyTimeout>()("authmachines/BusyTimeout", {
  defaultValue: (): Duration.Duration => Duration.seconds(10),
}) {}

/** Whether a failure is SQLite's "database is locked". */
export function isBusy(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === "string" && cause.code.startsWith("SQLITE_BUSY");
}

/** Short, jittered pauses for up to `wait`. */
export const busyRetry = (wait: Duration.Duration) =>
  Schedule.exponential("2 millis", 1.5).pipe(Schedule.union(Schedule.spaced("40 millis")), Schedule.jittered, Schedule.upTo(wait));

/**
 * `effect` retried while it fails with "database is locked" (and `also` holds), up to the
 * `BusyTimeout`. The retry schedule is built only once the first attempt met a busy database:
 * `Effect.retry` costs several microseconds even when nothing fails.
 */
export const retryWhileBusy = <A, E, R>(effect: Effect.Effect<A, E, R>, also: () => boolean = () => true): Effect.Effect<A, E, R> => {
  const busy = (error: E): boolean => also() && isBusy(error);
  return Effect.catchIf(effect, busy, () =>
    Effect.zipRight(
      Effect.sleep(firstPause),
      Effect.flatMap(BusyTimeout, (wait) => Effect.retry(effect, { schedule: busyRetry(wait), while: busy })),
    ),
  );
};

/** The pause after the first busy attempt, before `busyRetry`'s own. */
const firstPause = Duration.millis(2);

/**
 * Runs `effect` in a transaction that holds the write lock from its first statement. On SQLite an
 * outermost one is `BEGIN IMMEDIATE` on the reserved connection (`sqliteTransaction`); inside an
 * open transaction it is a savepoint, as on PostgreSQL. `retryWhile` narrows when a busy database
 * is retried (a step stops retrying once its writes have started).
 */
export const withWriteTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>, retryWhile: () => boolean = () => true) =>
  Effect.flatMap(SqlClient.SqlClient, (sql): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
    sql.onDialectOrElse({
      sqlite: () =>
        Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (open) =>
          open._tag === "Some"
            ? sql.withTransaction(effect)
            : retryWhileBusy(Effect.scoped(Effect.flatMap(sql.reserve, (connection) => sqliteTransaction(connection, effect, false))), retryWhile),
        ),
      orElse: () => retryWhileBusy(sql.withTransaction(effect), retryWhile),
    }),
  );

/**
 * Runs `effect` in the caller's transaction when there is one, else in a write transaction of its
 * own. For an effect whose failure fails the caller's whole transaction anyway (a single
 * statement, a defect): it needs no savepoint of its own.
 */
export const inWriteTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (open) =>
    open._tag === "Some" ? effect : withWriteTransaction(effect),
  );

/**
 * A write transaction whose COMMIT does not wait for the disk, for a record other requests must
 * see at once but that may be lost to a power cut (a password check's attempt, SECURITY.md TH-03):
 * the step that follows commits durably and carries it to the disk with its own, so a login
 * with rate limits pays one flush, not two.
 *  - SQLite: committed at `synchronous = NORMAL` (the setting is restored after it). In WAL mode
 *    a process crash keeps it; an OS crash or power cut before the next durable commit or
 *    checkpoint of any request can undo it.
 *  - PostgreSQL: `synchronous_commit = off` for the transaction (a server crash within about
 *    three `wal_writer_delay`s can undo it).
 * Either way it is atomic and visible to every other connection as soon as it commits.
 */
export const withPromptTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
    sql.onDialectOrElse({
      pg: () => withWriteTransaction(Effect.zipRight(sql`SET LOCAL synchronous_commit TO OFF`, effect)),
      // Inside an open transaction (its connection already reserved) it can only be a savepoint.
      sqlite: () =>
        Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (open) =>
          open._tag === "Some"
            ? sql.withTransaction(effect)
            : retryWhileBusy(Effect.scoped(Effect.flatMap(sql.reserve, (connection) => sqliteTransaction(connection, effect, true)))),
        ),
      orElse: () => withWriteTransaction(effect),
    }),
  );

/**
 * On the reserved (only) connection: `BEGIN IMMEDIATE` (the write lock from the start, so a busy
 * database fails here, before any write, and is retried), run `effect` as that transaction's,
 * COMMIT or ROLLBACK. `prompt`: `synchronous` lowered to NORMAL around it when it is above, and
 * restored after. Nested transactions inside it are savepoints, as in any.
 */
const sqliteTransaction = <A, E, R>(connection: Connection, effect: Effect.Effect<A, E, R>, prompt: boolean): Effect.Effect<A, E | SqlError, R> => {
  const run = control(connection, true);
  // A `sql.transaction` span with its commit event, as `@effect/sql`'s own transactions report.
  const transaction = Effect.useSpan("sql.transaction", { kind: "client", captureStackTrace: false }, (span) =>
    Effect.acquireUseRelease(
      run("BEGIN IMMEDIATE"),
      () => Effect.withParentSpan(Effect.provideService(effect, SqlClient.TransactionConnection, [connection, 0] as const), span),
      (_, exit) =>
        Exit.isSuccess(exit)
          ? Effect.zipRight(
              commitOrUndo(run),
              Effect.map(Clock.currentTimeNanos, (now) => span.event("db.transaction.commit", now)),
            )
          : Effect.orDie(run("ROLLBACK")),
    ),
  );
  if (!prompt) {
    return transaction;
  }
  return Effect.flatMap(run("PRAGMA synchronous"), (rows) => {
    const level = Number((rows as ReadonlyArray<{ readonly synchronous?: unknown }>)[0]?.synchronous ?? 1);
    return level <= 1
      ? transaction
      : Effect.acquireUseRelease(run("PRAGMA synchronous = NORMAL"), () => transaction, () => Effect.orDie(run(`PRAGMA synchronous = ${level}`)));
  });
};

/** A write transaction a caller holds open across its own awaits (a flow step's). */
export interface HeldTransaction<R> {
  /** Runs effects as the transaction's: every statement goes to its connection. */
  readonly runtime: Runtime.Runtime<R>;
  /** Commits (`keep`) or rolls back, releases the connection, and resolves with how that ended. */
  readonly end: (keep: boolean) => Promise<Exit.Exit<void, unknown>>;
}

/**
 * Opens a write transaction held by the caller, not by a fiber: the connection is reserved in a
 * scope of its own, `BEGIN IMMEDIATE` (SQLite; `BEGIN` elsewhere) takes the write lock, retried
 * while the database is busy, and `end` commits or rolls back, then closes the scope. No fiber
 * waits in between, and each statement of the caller's runs in the returned runtime, whose
 * context names the connection, as inside @effect/sql's `withTransaction`. Nested transactions
 * in it are savepoints. A `sql.transaction` span covers it, with its commit or rollback event.
 */
export const holdWriteTransaction = <R>(): Effect.Effect<HeldTransaction<R>, SqlError, R | SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient;
    const outer = yield* Effect.runtime<R>();
    const span = yield* Effect.makeSpan("sql.transaction", { kind: "client", captureStackTrace: false });
    const sqlite = sql.onDialectOrElse({ sqlite: () => true, orElse: () => false });
    const [connection, scope] = yield* retryWhileBusy(
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Scope.make(), (scope) =>
          Effect.flatMap(Scope.extend(sql.reserve, scope), (connection) =>
            Effect.as(restore(control(connection, sqlite)(sqlite ? "BEGIN IMMEDIATE" : "BEGIN")), [connection, scope] as const),
          ).pipe(Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))),
        ),
      ),
    ).pipe(Effect.onError((cause) => Effect.map(Clock.currentTimeNanos, (now) => span.end(now, Exit.failCause(cause)))));
    const runtime: Runtime.Runtime<R> = Runtime.updateContext(outer, (context) =>
      context.pipe(Context.add(SqlClient.TransactionConnection, [connection, 0] as const), Context.add(Tracer.ParentSpan, span)),
    );
    const execute = control(connection, sqlite);
    const finish = (keep: boolean) =>
      Effect.flatMap(Clock.currentTimeNanos, (now) => {
        span.event(keep ? "db.transaction.commit" : "db.transaction.rollback", now);
        return keep ? commitOrUndo(execute) : Effect.orDie(execute("ROLLBACK"));
      }).pipe(
        Effect.asVoid,
        Effect.onExit((exit) =>
          Effect.zipRight(
            Scope.close(scope, exit),
            Effect.map(Clock.currentTimeNanos, (now) => span.end(now, exit)),
          ),
        ),
        Effect.uninterruptible,
      );
    let ended: Promise<Exit.Exit<void, unknown>> | null = null;
    return {
      runtime,
      end: (keep) => (ended ??= Runtime.runPromiseExit(outer)(finish(keep))),
    } satisfies HeldTransaction<R>;
  });

/**
 * COMMIT; when it fails, ROLLBACK and die with its error. SQLite keeps a transaction whose COMMIT
 * failed (a deferred constraint) open, and the next statements on the connection would run in it.
 */
const commitOrUndo = (run: (text: string) => Effect.Effect<unknown, SqlError>): Effect.Effect<void> =>
  Effect.catchAll(Effect.asVoid(run("COMMIT")), (error) => Effect.zipRight(Effect.ignore(run("ROLLBACK")), Effect.die(error)));

/**
 * Transaction-control statements on `connection`. SQLite's are prepared once and kept in the
 * driver's statement cache (preparing `COMMIT` anew cost more than running it); elsewhere they go
 * unprepared, as @effect/sql's own transactions send them (suspended: that driver prepares a
 * statement when its effect is made, not when it runs).
 */
const control =
  (connection: Connection, sqlite: boolean) =>
  (text: string): Effect.Effect<ReadonlyArray<unknown>, SqlError> =>
    sqlite ? connection.execute(text, [], undefined) : Effect.suspend(() => connection.executeUnprepared(text, [], undefined));
