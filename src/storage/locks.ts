/**
 * Serialising read-then-write steps on one key. On PostgreSQL a transaction-scoped advisory lock
 * (released at commit or rollback) makes "check, then insert" atomic across connections and
 * processes; on SQLite the step already holds the database's single write lock, so it is a no-op.
 */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";

export const lockKey = (key: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.onDialectOrElse({
      pg: () => Effect.asVoid(sql`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`),
      orElse: () => Effect.void,
    }),
  ).pipe(Effect.orDie);
