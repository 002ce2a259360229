/**
 * Migrations run in one transaction (SECURITY.md DD-09): a migration that fails halfway — here
 * its last statement, an index whose name a stray table already holds — leaves the database as it
 * was, with no table and no recorded migration; once the obstacle is gone every migration runs
 * and is recorded. On an empty SQLite file, or an empty PostgreSQL schema of its own.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { createAuth } from "../../src/auth.ts";
import { migrations } from "../../src/storage/migrations.ts";
import { onPostgres, postgresUrl, schemaPrefix, urlFor } from "../support/database.ts";
import { testSecret } from "../support/harness.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

/** An empty database: its URL, and a raw query function beside the library. */
async function emptyDatabase(): Promise<{ url: string; raw: (text: string) => Promise<Array<Record<string, unknown>>> }> {
  if (onPostgres) {
    const schema = `${schemaPrefix}migrate_${process.pid}`;
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`SET search_path TO ${schema}`);
    cleanups.push(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    });
    const tables = `SELECT tablename AS name FROM pg_tables WHERE schemaname = '${schema}' ORDER BY 1`;
    return { url: urlFor(schema), raw: async (text) => (await admin.query(text === "tables" ? tables : text)).rows };
  }
  const dir = mkdtempSync(join(tmpdir(), "authmachines-migrate-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "auth.db");
  const raw = async (text: string) => {
    const db = new Database(file);
    try {
      const query = text === "tables" ? "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1" : text;
      return /^\s*SELECT/i.test(query) ? (db.prepare(query).all() as Array<Record<string, unknown>>) : (db.exec(query), []);
    } finally {
      db.close();
    }
  };
  return { url: `sqlite:${file}`, raw };
}

const open = (database: string) => createAuth({ secret: testSecret, database, mailer: { send: async () => undefined }, outbox: { pollIntervalMs: false } });

describe("migrations (DD-09)", () => {
  it("a migration failing at its last statement leaves an empty database; without the obstacle all run once", async () => {
    const { url, raw } = await emptyDatabase();
    await raw("CREATE TABLE auth_outbox_delivered (x INTEGER)");
    await expect(open(url)).rejects.toThrow();
    expect((await raw("tables")).map((row) => row["name"])).toEqual(["auth_migrations", "auth_outbox_delivered"]);
    expect(await raw("SELECT id FROM auth_migrations")).toEqual([]);

    await raw("DROP TABLE auth_outbox_delivered");
    const auth = await open(url);
    await auth.close();
    const applied = await raw("SELECT id FROM auth_migrations ORDER BY id");
    expect(applied.map((row) => Number(row["id"]))).toEqual(migrations.map((m) => m.id));
    expect((await raw("tables")).map((row) => row["name"])).toContain("auth_user");
  });
});
