/** The one read behind `auth.getSession`: a live session row joined with its active user. */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import type { UserRow } from "./users.ts";

export interface AuthenticatedSessionRow extends UserRow {
  readonly session_public_id: number;
  readonly session_data: string;
  readonly session_created_at: number;
}

export const findAuthenticatedSession = (id: string, now: number, seenAfter: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<AuthenticatedSessionRow>`SELECT u.*, s.public_id AS session_public_id, s.data AS session_data,
        s.created_at AS session_created_at
      FROM auth_session s JOIN auth_user u ON u.id = s.user_id
      WHERE s.id = ${id} AND s.expires_at > ${now} AND s.last_seen_at > ${seenAfter} AND u.is_active = 1`,
  ).pipe(
    Effect.map((rows) => rows[0] ?? null),
    Effect.orDie,
  );
