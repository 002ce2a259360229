/**
 * The database layer chosen by `database`: `sqlite:<file>` (default `sqlite:auth.db`),
 * `sqlite::memory:`; PostgreSQL arrives with the durability issue. SQLite runs in WAL mode with
 * `synchronous=FULL`, foreign keys on and a busy timeout, and is migrated at start-up.
 */
import { SqlClient } from "@effect/sql";
import { SqliteClient } from "@effect/sql-sqlite-node";
import { Effect, Layer } from "effect";
import { migrate } from "./migrations.ts";

function configError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: "ERR_INVALID_DATABASE" });
}

/** The SQL client for a `database` URL, migrated. */
export function databaseLayer(url: string): Layer.Layer<SqlClient.SqlClient> {
  if (!url.startsWith("sqlite:")) {
    throw configError(`unsupported database URL ${JSON.stringify(url.replace(/\/\/[^@]*@/, "//***@"))}`);
  }
  const filename = url.slice("sqlite:".length);
  if (filename === "") {
    throw configError("sqlite: needs a file name or :memory:");
  }
  const client = SqliteClient.layer({ filename, disableWAL: filename === ":memory:" });
  const setup = Layer.effectDiscard(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient;
      yield* sql.unsafe("PRAGMA foreign_keys = ON");
      yield* sql.unsafe("PRAGMA synchronous = FULL");
      yield* sql.unsafe("PRAGMA busy_timeout = 5000");
      yield* migrate;
    }).pipe(Effect.orDie),
  );
  return Layer.provideMerge(setup, client).pipe(Layer.orDie);
}
