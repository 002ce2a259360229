/**
 * Which database a test harness runs on: `sqlite::memory:` by default, or, when
 * `AUTH_TEST_DATABASE=postgres` (the `postgres` vitest project), the local PostgreSQL. There
 * each test worker migrates one schema of its own once, and every harness starts from empty
 * tables (they are truncated when it opens).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import pg from "pg";

export const postgresUrl = process.env["AUTH_TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

export const onPostgres = process.env["AUTH_TEST_DATABASE"] === "postgres";

/**
 * The prefix of the schemas the test workers use (dropped by the global setup and teardown).
 * Runs that share one database at the same time give each a prefix of its own.
 */
export const schemaPrefix = process.env["AUTH_TEST_SCHEMA_PREFIX"] ?? "am_test_";

export interface TestDatabase {
  readonly url: string;
  /** Empties every table (PostgreSQL: the worker's schema is shared by its harnesses). */
  readonly reset: (query: (text: string) => Promise<unknown>) => Promise<void>;
}

let workerSchema: Promise<string> | null = null;

async function createWorkerSchema(): Promise<string> {
  const schema = `${schemaPrefix}${process.env["VITEST_POOL_ID"] ?? "0"}_${process.pid}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  return schema;
}

/** A URL whose connections use `schema`. */
export function urlFor(schema: string): string {
  const separator = postgresUrl.includes("?") ? "&" : "?";
  return `${postgresUrl}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

export async function testDatabase(): Promise<TestDatabase> {
  if (!onPostgres) {
    return { url: "sqlite::memory:", reset: async () => undefined };
  }
  workerSchema ??= createWorkerSchema();
  return {
    url: urlFor(await workerSchema),
    reset: async (query) => {
      await query(
        "TRUNCATE auth_outbox, auth_flow, auth_session, auth_verification, auth_email_address, auth_rate_limit, " +
          "auth_social_state, auth_social_token, auth_social_account, auth_user",
      );
    },
  };
}

/** A database of a test's own with no tables yet, reachable from other processes. */
export interface EmptyDatabase {
  readonly url: string;
  /** Runs a script of one or more statements. */
  readonly exec: (script: string) => Promise<void>;
  /** The rows of one query (no parameters). */
  readonly query: <T>(text: string) => Promise<ReadonlyArray<T>>;
  /** The names of its tables, sorted. */
  readonly tableNames: () => Promise<ReadonlyArray<string>>;
}

let emptyDatabases = 0;

async function withPgClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/**
 * SQLite: a file in a new temporary directory. PostgreSQL: a new schema under the run's prefix
 * (so the global teardown drops it), not the worker's shared one, which is already migrated.
 */
export async function emptyDatabase(): Promise<EmptyDatabase> {
  if (!onPostgres) {
    const file = join(mkdtempSync(join(tmpdir(), "authmachines-")), "auth.db");
    const withDb = async <T>(use: (db: Sqlite.Database) => T): Promise<T> => {
      const db = new Sqlite(file);
      try {
        return use(db);
      } finally {
        db.close();
      }
    };
    const query = <T>(text: string) => withDb((db) => db.prepare(text).all() as Array<T>);
    return {
      url: `sqlite:${file}`,
      exec: (script) => withDb((db) => void db.exec(script)),
      query,
      tableNames: async () =>
        (await query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).map((row) => row.name),
    };
  }
  const schema = `${schemaPrefix}empty_${process.env["VITEST_POOL_ID"] ?? "0"}_${process.pid}_${++emptyDatabases}`;
  const url = urlFor(schema);
  const query = <T>(text: string) => withPgClient(url, async (client) => (await client.query(text)).rows as Array<T>);
  await withPgClient(postgresUrl, (client) => client.query(`CREATE SCHEMA ${schema}`));
  return {
    url,
    exec: (script) => withPgClient(url, async (client) => void (await client.query(script))),
    query,
    tableNames: async () =>
      (
        await query<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name",
        )
      ).map((row) => row.name),
  };
}
