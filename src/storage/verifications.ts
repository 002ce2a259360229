/**
 * Verification keys and codes: stored as digests (not unique: a code repeats over time), single
 * use (`used_at` set by one atomic update), expiring. A code's attempts are counted on its flow (`code-flows.ts`).
 */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { lockKey } from "./locks.ts";

export interface VerificationRow {
  readonly id: string;
  readonly purpose: string;
  readonly digest: string;
  readonly user_id: string;
  readonly email_address_id: string | null;
  readonly email: string;
  readonly created_at: number;
  readonly expires_at: number;
  readonly attempts: number;
  readonly used_at: number | null;
  /** Password reset: the user's state when it was issued (see `resetFingerprint`). */
  readonly fingerprint: string | null;
}

const sqlClient = SqlClient.SqlClient;

export const insertVerification = (
  row: Omit<VerificationRow, "attempts" | "used_at" | "fingerprint"> & { readonly fingerprint?: string },
) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`INSERT INTO auth_verification (id, purpose, digest, user_id, email_address_id, email, created_at, expires_at, fingerprint)
      VALUES (${row.id}, ${row.purpose}, ${row.digest}, ${row.user_id}, ${row.email_address_id}, ${row.email},
              ${row.created_at}, ${row.expires_at}, ${row.fingerprint ?? null})`,
  ).pipe(Effect.asVoid, Effect.orDie);

export const findVerificationByDigest = (purpose: string, digest: string) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<VerificationRow>`SELECT * FROM auth_verification WHERE purpose = ${purpose} AND digest = ${digest}
      ORDER BY CASE WHEN used_at IS NULL THEN 0 ELSE 1 END, expires_at DESC LIMIT 1`,
  ).pipe(
    Effect.map((rows) => rows[0] ?? null),
    Effect.orDie,
  );

/** Serialises the checks of one verification (attempts, single use) across connections. */
export const lockVerification = (id: string) => lockKey(`verification:${id}`);

export const findVerificationById = (id: string) =>
  Effect.flatMap(sqlClient, (sql) => sql<VerificationRow>`SELECT * FROM auth_verification WHERE id = ${id}`).pipe(
    Effect.map((rows) => rows[0] ?? null),
    Effect.orDie,
  );

/** Marks the verification used; true only for the one caller that flipped it. */
export const consumeVerification = (id: string, now: number) =>
  Effect.flatMap(
    sqlClient,
    (sql) =>
      sql<{ id: string }>`UPDATE auth_verification SET used_at = ${now} WHERE id = ${id} AND used_at IS NULL AND expires_at > ${now} RETURNING id`,
  ).pipe(
    Effect.map((rows) => rows.length === 1),
    Effect.orDie,
  );

/** Invalidates every open verification of `purpose` for a user (a new one replaces them). */
export const revokeVerifications = (userId: string, purpose: string, now: number) =>
  Effect.flatMap(
    sqlClient,
    (sql) =>
      sql`UPDATE auth_verification SET used_at = ${now} WHERE user_id = ${userId} AND purpose = ${purpose} AND used_at IS NULL`,
  ).pipe(Effect.asVoid, Effect.orDie);

/** A verification read under its lock, for a check-then-update inside a step's transaction. */
export const lockedVerification = (id: string) => Effect.zipRight(lockVerification(id), findVerificationById(id));

/** A user's open verifications of `purpose`, newest first. */
export const findOpenVerifications = (userId: string, purpose: string, now: number) =>
  Effect.flatMap(
    sqlClient,
    (sql) =>
      sql<VerificationRow>`SELECT * FROM auth_verification WHERE user_id = ${userId} AND purpose = ${purpose}
        AND used_at IS NULL AND expires_at > ${now} ORDER BY created_at DESC`,
  ).pipe(Effect.orDie);

/** Re-binds a reset verification to the user's state (a reset code just verified its address). */
export const setVerificationFingerprint = (id: string, fingerprint: string) =>
  Effect.flatMap(sqlClient, (sql) => sql`UPDATE auth_verification SET fingerprint = ${fingerprint} WHERE id = ${id}`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );
