/** The session read of a request and of `auth.getSession`: one query joining the user. */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import type { UserRow } from "./users.ts";

/** A live session row with its user's columns (all null for an anonymous session's row). */
export interface SessionWithUserRow extends Partial<UserRow> {
  readonly session_id: string;
  readonly session_public_id: number;
  readonly session_user_id: string | null;
  readonly session_data: string;
  readonly session_created_at: number;
}

/**
 * The one read behind a request's session (`loadSession`): a live session row (not expired,
 * used after `seenAfter`) and its user, active or not, in one query.
 */
export const findSessionWithUser = (id: string, now: number, seenAfter: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<SessionWithUserRow>`SELECT u.*, s.id AS session_id, s.public_id AS session_public_id,
        s.user_id AS session_user_id, s.data AS session_data, s.created_at AS session_created_at
      FROM auth_session s LEFT JOIN auth_user u ON u.id = s.user_id
      WHERE s.id = ${id} AND s.expires_at > ${now} AND s.last_seen_at > ${seenAfter}`,
  ).pipe(
    Effect.map((rows) => rows[0] ?? null),
    Effect.orDie,
  );
