/**
 * The process of a code flow (allauth's `AbstractCodeVerificationProcess` state): wrong codes and
 * resends are counted on the flow's row, each by one `UPDATE … WHERE count < max RETURNING`.
 * The row is locked by that update until the step commits (PostgreSQL) or the step holds the
 * database's write lock (SQLite), so however many requests run in parallel, no more codes are
 * compared and no more mails sent than the caps allow.
 */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";

const sqlClient = SqlClient.SqlClient;

export interface ProcessSlot {
  /** The count after this request took its slot. */
  readonly count: number;
  readonly verificationId: string | null;
}

const slot = (rows: ReadonlyArray<{ n: number; verification_id: string | null }>): ProcessSlot | null =>
  rows[0] === undefined ? null : { count: Number(rows[0].n), verificationId: rows[0].verification_id };

/**
 * Takes one attempt of a live process: null when the flow is gone, timed out, or out of
 * attempts. The caller gives it back (`returnCodeAttempt`) when the code was right.
 */
export const takeCodeAttempt = (flowId: string, max: number, now: number) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<{ n: number; verification_id: string | null }>`UPDATE auth_flow SET attempts = attempts + 1
      WHERE id = ${flowId} AND attempts < ${max} AND code_expires_at > ${now}
      RETURNING attempts AS n, verification_id`,
  ).pipe(Effect.map(slot), Effect.orDie);

export const returnCodeAttempt = (flowId: string) =>
  Effect.flatMap(sqlClient, (sql) => sql`UPDATE auth_flow SET attempts = attempts - 1 WHERE id = ${flowId} AND attempts > 0`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );

/** Takes one resend of a live process: null when the flow is gone, timed out, or out of resends. */
export const takeCodeResend = (flowId: string, max: number, now: number) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<{ n: number; verification_id: string | null }>`UPDATE auth_flow SET resends = resends + 1
      WHERE id = ${flowId} AND resends < ${max} AND code_expires_at > ${now}
      RETURNING resends AS n, verification_id`,
  ).pipe(Effect.map(slot), Effect.orDie);

export const returnCodeResend = (flowId: string) =>
  Effect.flatMap(sqlClient, (sql) => sql`UPDATE auth_flow SET resends = resends - 1 WHERE id = ${flowId} AND resends > 0`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );

/** Points the process at the verification holding its new code (after a resend). */
export const setCodeVerification = (flowId: string, verificationId: string | null) =>
  Effect.flatMap(sqlClient, (sql) => sql`UPDATE auth_flow SET verification_id = ${verificationId} WHERE id = ${flowId}`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );
