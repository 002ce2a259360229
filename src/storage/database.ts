/**
 * The database layer chosen by `database`:
 *  - `sqlite:<file>` (default `sqlite:auth.db`) or `sqlite::memory:` — WAL mode,
 *    `synchronous=FULL` (each commit is on disk), foreign keys on, a busy timeout; a step's
 *    transaction takes the write lock at once (see `step.ts`);
 *  - `postgres://…` / `postgresql://…` — a pool; `BIGINT` read back as numbers; steps that read
 *    then write take transaction-scoped advisory locks (`locks.ts`).
 * Both are migrated at start-up by the same migrations, unless `migrate` is false (then the
 * migrations are applied by `npx authmachines migrate`, and start-up only checks for them).
 */
import { SqlClient } from "@effect/sql";
import { Effect, Layer, Redacted } from "effect";
import type pg from "pg";
import { importOptional } from "../optional-package.ts";
import { migrate, pendingMigrations } from "./migrations.ts";

function configError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: "ERR_INVALID_DATABASE" });
}

/** A database URL with any password masked, for messages. */
export function maskedUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

/** `BIGINT` (epoch milliseconds, counts) as JavaScript numbers; they stay far below 2^53. */
function pgTypes(types: typeof pg.types): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      oid === types.builtins.INT8
        ? (value: string) => Number(value)
        : types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
  };
}

/** A layer built once `build` (which imports its driver) resolves; a failed import is its failure. */
function importedLayer(build: () => Promise<Layer.Layer<SqlClient.SqlClient, unknown>>): Layer.Layer<SqlClient.SqlClient, unknown> {
  return Layer.unwrapEffect(Effect.tryPromise({ try: build, catch: (error) => error }));
}

/**
 * The driver for `url`, imported on first use: `@effect/sql-pg` (with `pg`) and
 * `@effect/sql-sqlite-node` are optional peer dependencies, and only the configured one is loaded.
 */
export function clientLayer(url: string): Layer.Layer<SqlClient.SqlClient, unknown> {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const purpose = "a postgres:// database";
    const install = ["@effect/sql-pg", "pg"];
    return importedLayer(async () => {
      const { PgClient } = await importOptional("@effect/sql-pg", () => import("@effect/sql-pg"), purpose, install);
      const { default: driver } = await importOptional("pg", () => import("pg"), purpose, install);
      return PgClient.layer({ url: Redacted.make(url), types: pgTypes(driver.types), maxConnections: 10 });
    });
  }
  if (!url.startsWith("sqlite:")) {
    throw configError(`unsupported database URL ${JSON.stringify(maskedUrl(url))}: use sqlite:<file> or postgres://…`);
  }
  const filename = url.slice("sqlite:".length);
  if (filename === "") {
    throw configError("sqlite: needs a file name or :memory:");
  }
  return importedLayer(async () => {
    const sqlite = "@effect/sql-sqlite-node";
    const { SqliteClient } = await importOptional(sqlite, () => import("@effect/sql-sqlite-node"), "a sqlite: database", [sqlite]);
    return SqliteClient.layer({ filename, disableWAL: filename === ":memory:" });
  });
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

/** Dies, naming the command that applies them, when the database lacks migrations. */
function requireMigrated(url: string) {
  return Effect.flatMap(pendingMigrations, (pending) =>
    pending.length === 0
      ? Effect.void
      : Effect.die(
          new Error(
            `authmachines: the database ${maskedUrl(url)} lacks ${pending.length === 1 ? "migration" : "migrations"} ` +
              `${pending.map((m) => `${m.id} (${m.name})`).join(", ")}, and createAuth was given migrate: false: ` +
              `run npx authmachines migrate --database <url> first`,
          ),
        ),
  );
}

export interface DatabaseOptions {
  /** Apply the missing migrations (true), or only check that none is missing (false). */
  readonly migrate: boolean;
}

/** The SQL client for a `database` URL, configured and migrated (or checked). */
export function databaseLayer(url: string, options: DatabaseOptions): Layer.Layer<SqlClient.SqlClient> {
  const client = clientLayer(url);
  const schema = options.migrate ? Effect.asVoid(migrate) : requireMigrated(url);
  const setup = Layer.effectDiscard(Effect.zipRight(sqliteSettings, schema).pipe(Effect.orDie));
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
