/**
 * Which database a test harness runs on: `sqlite::memory:` by default, or, when
 * `AUTH_TEST_DATABASE=postgres` (the `postgres` vitest project), the local PostgreSQL. There
 * each test worker migrates one schema of its own once, and every harness starts from empty
 * tables (they are truncated when it opens).
 */
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
