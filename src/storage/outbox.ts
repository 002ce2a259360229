/**
 * The outbox table: claimed atomically (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one
 * writer) with a lease, so concurrent drainers never deliver one row twice while it is leased.
 */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { withWriteTransaction } from "./write-transaction.ts";

export interface OutboxRow {
  readonly id: string;
  readonly kind: "mail" | "signal" | "webhook";
  readonly topic: string;
  readonly payload: string;
  readonly status: "pending" | "delivered" | "dead";
  readonly attempts: number;
  readonly next_attempt_at: number;
  readonly locked_until: number | null;
  readonly last_error: string | null;
  readonly created_at: number;
  readonly delivered_at: number | null;
}

const sqlClient = SqlClient.SqlClient;

export const insertOutboxRow = (row: { id: string; kind: OutboxRow["kind"]; topic: string; payload: string; now: number }) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`INSERT INTO auth_outbox (id, kind, topic, payload, status, attempts, next_attempt_at, created_at)
      VALUES (${row.id}, ${row.kind}, ${row.topic}, ${row.payload}, 'pending', 0, ${row.now}, ${row.now})`,
  ).pipe(Effect.asVoid, Effect.orDie);

/**
 * Leases up to `limit` due rows (only `ids`, when given) until `now + leaseMs`, counting an
 * attempt on each, and returns them.
 */
export const claimOutboxRows = (options: { now: number; leaseMs: number; limit: number; ids?: ReadonlyArray<string> }) =>
  Effect.flatMap(sqlClient, (sql) =>
    withWriteTransaction(
      Effect.gen(function* () {
        const only = options.ids === undefined ? sql`` : sql`AND ${sql.in("id", options.ids)}`;
        const lock = sql.onDialectOrElse({ pg: () => sql`FOR UPDATE SKIP LOCKED`, orElse: () => sql`` });
        const due = yield* sql<{ id: string }>`SELECT id FROM auth_outbox
          WHERE status = 'pending' AND next_attempt_at <= ${options.now}
            AND (locked_until IS NULL OR locked_until < ${options.now}) ${only}
          ORDER BY created_at LIMIT ${options.limit} ${lock}`;
        if (due.length === 0) {
          return [] as ReadonlyArray<OutboxRow>;
        }
        return yield* sql<OutboxRow>`UPDATE auth_outbox SET locked_until = ${options.now + options.leaseMs}, attempts = attempts + 1
          WHERE ${sql.in("id", due.map((row) => row.id))} RETURNING *`;
      }),
    ),
  ).pipe(Effect.orDie);

export const markDelivered = (id: string, now: number, payload: string) =>
  Effect.flatMap(sqlClient, (sql) =>
    withWriteTransaction(
      sql`UPDATE auth_outbox SET status = 'delivered', delivered_at = ${now}, locked_until = NULL, last_error = NULL,
        payload = ${payload} WHERE id = ${id}`,
    ),
  ).pipe(Effect.asVoid, Effect.orDie);

export const markFailed = (id: string, options: { dead: boolean; nextAttemptAt: number; error: string }) =>
  Effect.flatMap(sqlClient, (sql) =>
    withWriteTransaction(
      sql`UPDATE auth_outbox SET status = ${options.dead ? "dead" : "pending"}, next_attempt_at = ${options.nextAttemptAt},
        locked_until = NULL, last_error = ${options.error} WHERE id = ${id}`,
    ),
  ).pipe(Effect.asVoid, Effect.orDie);

export const listOutboxRows = (status: OutboxRow["status"], limit: number) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<OutboxRow>`SELECT * FROM auth_outbox WHERE status = ${status} ORDER BY created_at LIMIT ${limit}`,
  ).pipe(Effect.orDie);

/** Puts a row (dead or pending) back in line, due now, with a fresh attempt count. */
export const requeueOutboxRow = (id: string, now: number) =>
  Effect.flatMap(sqlClient, (sql) =>
    withWriteTransaction(
      sql<{ id: string }>`UPDATE auth_outbox SET status = 'pending', attempts = 0, next_attempt_at = ${now}, locked_until = NULL
        WHERE id = ${id} AND status <> 'delivered' RETURNING id`,
    ),
  ).pipe(
    Effect.map((rows) => rows.length === 1),
    Effect.orDie,
  );

/** Extends the lease of a row being delivered (so a slow send is not taken by another drainer). */
export const renewLease = (id: string, lockedUntil: number) =>
  Effect.flatMap(sqlClient, (sql) =>
    withWriteTransaction(sql`UPDATE auth_outbox SET locked_until = ${lockedUntil} WHERE id = ${id} AND status = 'pending'`),
  ).pipe(Effect.asVoid, Effect.orDie);

/** Gives back claimed rows that were not tried (closing): due now, their attempt not counted. */
export const releaseOutboxRows = (ids: ReadonlyArray<string>) =>
  ids.length === 0
    ? Effect.void
    : Effect.flatMap(sqlClient, (sql) =>
        withWriteTransaction(
          sql`UPDATE auth_outbox SET locked_until = NULL, attempts = attempts - 1
            WHERE ${sql.in("id", ids)} AND status = 'pending' AND attempts > 0`,
        ),
      ).pipe(Effect.asVoid, Effect.orDie);
