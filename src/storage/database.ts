/**
 * The database layer chosen by `database`:
 *  - `sqlite:<file>` (default `sqlite:auth.db`) or `sqlite::memory:` — WAL mode,
 *    `synchronous=FULL` (each commit is on disk), foreign keys on, a busy timeout; a step's
 *    transaction takes the write lock at once (see `step.ts`);
 *  - `postgres://…` / `postgresql://…` — a pool; `BIGINT` read back as numbers; steps that read
 *    then write take transaction-scoped advisory locks (`locks.ts`).
 * Both are migrated at start-up by the same migrations.
 */
import { SqlClient } from "@effect/sql";
import { PgClient } from "@effect/sql-pg";
import { SqliteClient } from "@effect/sql-sqlite-node";
import { Effect, Layer, Redacted } from "effect";
import pg from "pg";
import { migrate } from "./migrations.ts";

function configError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: "ERR_INVALID_DATABASE" });
}

/** A database URL with any password masked, for messages. */
export function maskedUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

/** `BIGINT` (epoch milliseconds, counts) as JavaScript numbers; they stay far below 2^53. */
const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

function clientLayer(url: string): Layer.Layer<SqlClient.SqlClient, unknown> {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    return PgClient.layer({ url: Redacted.make(url), types: pgTypes, maxConnections: 10 });
  }
  if (!url.startsWith("sqlite:")) {
    throw configError(`unsupported database URL ${JSON.stringify(maskedUrl(url))}: use sqlite:<file> or postgres://…`);
  }
  const filename = url.slice("sqlite:".length);
  if (filename === "") {
    throw configError("sqlite: needs a file name or :memory:");
  }
  return SqliteClient.layer({ filename, disableWAL: filename === ":memory:" });
}

const sqliteSettings = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient;
  yield* sql.onDialectOrElse({
    sqlite: () =>
      Effect.all([
        sql.unsafe("PRAGMA foreign_keys = ON"),
        sql.unsafe("PRAGMA synchronous = FULL"),
        // Short: waiting for the lock is done by retrying asynchronously (write-transaction.ts).
        sql.unsafe("PRAGMA busy_timeout = 50"),
      ]),
    orElse: () => Effect.void,
  });
});

/** The SQL client for a `database` URL, configured and migrated. */
export function databaseLayer(url: string): Layer.Layer<SqlClient.SqlClient> {
  const client = clientLayer(url);
  const setup = Layer.effectDiscard(Effect.zipRight(sqliteSettings, migrate).pipe(Effect.orDie));
  return Layer.provideMerge(setup, client).pipe(
    Layer.catchAll((error) =>
      Layer.die(
        new Error(
          `authmachines: cannot open the database ${maskedUrl(url)}: ${String((error as { message?: unknown }).message ?? error)}`,
        ),
      ),
    ),
  );
}
