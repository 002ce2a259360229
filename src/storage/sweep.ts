/**
 * Deletes what has outlived its use (SECURITY.md DD-08): expired sessions, flows, verification
 * keys and codes, redirect states, rate-limit hits older than the longest configured period, and
 * delivered outbox rows older than `deliveredRetentionMs`. Live rows are never touched.
 */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { withWriteTransaction } from "./write-transaction.ts";

export interface SweepOptions {
  readonly now: number;
  /** The longest rate-limit period: older hits no longer count. */
  readonly rateLimitRetentionMs: number;
  /** How long a delivered mail or signal row is kept (its payload is already reduced). */
  readonly deliveredRetentionMs: number;
}

export const sweepExpired = (options: SweepOptions) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    withWriteTransaction(
      Effect.all(
        [
          sql`DELETE FROM auth_flow WHERE expires_at <= ${options.now}`,
          sql`DELETE FROM auth_flow WHERE session_id IN (SELECT id FROM auth_session WHERE expires_at <= ${options.now})`,
          sql`DELETE FROM auth_session WHERE expires_at <= ${options.now}`,
          sql`DELETE FROM auth_verification WHERE expires_at <= ${options.now}`,
          sql`DELETE FROM auth_social_state WHERE expires_at <= ${options.now}`,
          sql`DELETE FROM auth_rate_limit WHERE at <= ${options.now - options.rateLimitRetentionMs}`,
          sql`DELETE FROM auth_outbox WHERE status = 'delivered' AND delivered_at <= ${options.now - options.deliveredRetentionMs}`,
        ],
        { discard: true },
      ),
    ),
  ).pipe(Effect.orDie);
