/** Sessions (keyed by the digest of their token) and persisted flow snapshots. */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { lockKey } from "./locks.ts";

export interface SessionRow {
  readonly id: string;
  readonly public_id: number;
  readonly user_id: string | null;
  readonly data: string;
  readonly ip: string;
  readonly user_agent: string;
  readonly created_at: number;
  readonly last_seen_at: number;
  readonly expires_at: number;
}

export interface FlowRow {
  readonly id: string;
  readonly kind: string;
  readonly session_id: string;
  readonly snapshot: string;
  readonly created_at: number;
  readonly expires_at: number;
  /** Code flows: wrong codes counted so far, resends so far (atomic, see `code-flows.ts`). */
  readonly attempts?: number;
  readonly resends?: number;
  /** Code flows: the verification holding the current code (null: a flow that can never succeed). */
  readonly verification_id?: string | null;
  /** Code flows: when the process times out, counted from its start (resends do not extend it). */
  readonly code_expires_at?: number | null;
}

const sqlClient = SqlClient.SqlClient;

/** The live session with digest `id`: not expired, and used after `seenAfter` (the idle limit). */
export const findSession = (id: string, now: number, seenAfter = -1) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<SessionRow>`SELECT * FROM auth_session WHERE id = ${id} AND expires_at > ${now} AND last_seen_at > ${seenAfter}`,
  ).pipe(
    Effect.map((rows) => rows[0] ?? null),
    Effect.orDie,
  );

export const insertSession = (row: SessionRow) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`INSERT INTO auth_session (id, public_id, user_id, data, ip, user_agent, created_at, last_seen_at, expires_at)
      VALUES (${row.id}, ${row.public_id}, ${row.user_id}, ${row.data}, ${row.ip}, ${row.user_agent}, ${row.created_at},
              ${row.last_seen_at}, ${row.expires_at})`,
  ).pipe(Effect.asVoid, Effect.orDie);

export const updateSessionData = (id: string, data: string) =>
  Effect.flatMap(sqlClient, (sql) => sql`UPDATE auth_session SET data = ${data} WHERE id = ${id}`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );

/** `sessionIdleTimeout`: the session was used now. */
export const markSessionSeen = (id: string, now: number) =>
  Effect.flatMap(sqlClient, (sql) => sql`UPDATE auth_session SET last_seen_at = ${now} WHERE id = ${id}`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );

/** `usersessions.trackActivity`: when and from where the session was last used. */
export const touchSession = (id: string, now: number, ip: string, userAgent: string) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`UPDATE auth_session SET last_seen_at = ${now}, ip = ${ip}, user_agent = ${userAgent} WHERE id = ${id}`,
  ).pipe(Effect.asVoid, Effect.orDie);

export const deleteSession = (id: string) =>
  Effect.flatMap(sqlClient, (sql) =>
    Effect.zipRight(
      sql`DELETE FROM auth_flow WHERE session_id = ${id}`,
      sql`DELETE FROM auth_session WHERE id = ${id}`,
    ),
  ).pipe(Effect.asVoid, Effect.orDie);

/** Moves a session to a new id (its token was replaced), with its flows and redirect states. */
export const rekeySession = (oldId: string, newId: string) =>
  Effect.flatMap(sqlClient, (sql) =>
    Effect.all(
      [
        sql`UPDATE auth_session SET id = ${newId} WHERE id = ${oldId}`,
        sql`UPDATE auth_flow SET session_id = ${newId} WHERE session_id = ${oldId}`,
        sql`UPDATE auth_social_state SET session_id = ${newId} WHERE session_id = ${oldId}`,
      ],
      { discard: true },
    ),
  ).pipe(Effect.orDie);

/** Stores a new flow row (with its code process, if any). */
export const insertFlow = (row: FlowRow) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`INSERT INTO auth_flow (id, kind, session_id, snapshot, created_at, expires_at, verification_id, code_expires_at)
        VALUES (${row.id}, ${row.kind}, ${row.session_id}, ${row.snapshot}, ${row.created_at}, ${row.expires_at},
                ${row.verification_id ?? null}, ${row.code_expires_at ?? null})`,
  ).pipe(Effect.asVoid, Effect.orDie);

/**
 * Replaces the snapshot of an existing flow; its counters are left alone, and a flow that a
 * concurrent step ended stays ended.
 */
export const updateFlowSnapshot = (id: string, snapshot: string) =>
  Effect.flatMap(sqlClient, (sql) => sql`UPDATE auth_flow SET snapshot = ${snapshot} WHERE id = ${id}`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );

export const findFlow = (id: string, sessionId: string, now: number) =>
  Effect.flatMap(
    sqlClient,
    (sql) =>
      sql<FlowRow>`SELECT * FROM auth_flow WHERE id = ${id} AND session_id = ${sessionId} AND expires_at > ${now}`,
  ).pipe(
    Effect.map((rows) => rows[0] ?? null),
    Effect.orDie,
  );

export const deleteFlow = (id: string) =>
  Effect.flatMap(sqlClient, (sql) => sql`DELETE FROM auth_flow WHERE id = ${id}`).pipe(Effect.asVoid, Effect.orDie);

/** Ends every session of a user except `keepId` (its flows go with them). */
export const deleteOtherSessions = (userId: string, keepId: string | null) =>
  Effect.flatMap(sqlClient, (sql) =>
    Effect.zipRight(
      sql`DELETE FROM auth_flow WHERE session_id IN (SELECT id FROM auth_session WHERE user_id = ${userId} AND id <> ${keepId ?? ""})`,
      sql`DELETE FROM auth_session WHERE user_id = ${userId} AND id <> ${keepId ?? ""}`,
    ),
  ).pipe(Effect.asVoid, Effect.orDie);

export const listUserSessions = (userId: string, now: number) =>
  Effect.flatMap(
    sqlClient,
    (sql) =>
      sql<SessionRow>`SELECT * FROM auth_session WHERE user_id = ${userId} AND expires_at > ${now} ORDER BY created_at`,
  ).pipe(Effect.orDie);

/** Ends the given sessions of a user (by public id) with their flows. */
export const deleteUserSessions = (userId: string, publicIds: ReadonlyArray<number>) =>
  Effect.flatMap(sqlClient, (sql) =>
    publicIds.length === 0
      ? Effect.void
      : Effect.zipRight(
          sql`DELETE FROM auth_flow WHERE session_id IN (SELECT id FROM auth_session WHERE user_id = ${userId} AND ${sql.in("public_id", publicIds)})`,
          sql`DELETE FROM auth_session WHERE user_id = ${userId} AND ${sql.in("public_id", publicIds)}`,
        ),
  ).pipe(Effect.asVoid, Effect.orDie);

/** Ends every session of a user (their flows go with them). */
export const deleteAllUserSessions = (userId: string) =>
  Effect.flatMap(sqlClient, (sql) =>
    Effect.zipRight(
      sql`DELETE FROM auth_flow WHERE session_id IN (SELECT id FROM auth_session WHERE user_id = ${userId})`,
      sql`DELETE FROM auth_session WHERE user_id = ${userId}`,
    ),
  ).pipe(Effect.asVoid, Effect.orDie);
