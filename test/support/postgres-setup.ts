/**
 * Global setup of the `postgres` project: fails the run, with the way to fix it, when
 * PostgreSQL cannot be reached (in CI it must be; elsewhere the project is left out), and drops
 * the workers' schemas afterwards.
 */
import pg from "pg";
import { postgresUrl, schemaPrefix } from "./database.ts";

async function withClient<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function dropTestSchemas(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    "SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE $1",
    [`${schemaPrefix}%`],
  );
  for (const { name } of rows) {
    await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  try {
    await withClient(dropTestSchemas);
  } catch (error) {
    throw new Error(
      `PostgreSQL is required for the storage suites (CI=true) but ${postgresUrl} is unreachable: ` +
        `${(error as Error).message}. Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
    );
  }
  return () => withClient(dropTestSchemas);
}
