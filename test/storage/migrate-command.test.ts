/**
 * `npx authmachines migrate` (bin/authmachines.ts, run from source with tsx) on a database of
 * the test's own, and `createAuth({ migrate: false })`, which leaves the migrations to it.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAuth } from "../../src/auth.ts";
import { maskedUrl } from "../../src/storage/database.ts";
import { migrations } from "../../src/storage/migrations.ts";
import { emptyDatabase, onPostgres } from "../support/database.ts";
import { harness, testSecret } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher, signup, take } from "../http/support.ts";

const root = new URL("../..", import.meta.url).pathname;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function authmachines(...args: Array<string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "bin/authmachines.ts", ...args], { cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

/** Every table the migrations create, by name. */
const createdTables = migrations
  .flatMap((migration) => migration.statements)
  .flatMap((statement) => [...statement.matchAll(/^CREATE TABLE (\w+) \(/g)].map((match) => match[1]!));

// Each run of the command starts Node and compiles the sources with tsx: seconds on a busy machine.
vi.setConfig({ testTimeout: 120_000 });

const dialect = onPostgres ? "pg" : "sqlite";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("npx authmachines migrate", () => {
  it("applies every migration once: a second run changes nothing", async () => {
    const db = await emptyDatabase();

    const first = await authmachines("migrate", "--database", db.url);

    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.split("\n").filter((line) => line.startsWith("applied "))).toEqual(
      migrations.map((migration) => `applied ${migration.id} ${migration.name}`),
    );
    expect(first.stdout).toContain(`${migrations.length} of ${migrations.length} migrations applied`);
    const recorded = await db.query<{ id: number; applied_at: number }>("SELECT id, applied_at FROM auth_migrations ORDER BY id");
    expect(recorded.map((row) => Number(row.id))).toEqual(migrations.map((migration) => migration.id));
    const tables = await db.tableNames();
    expect(tables).toEqual(expect.arrayContaining([...createdTables.filter((name) => !name.endsWith("_next")), "auth_migrations"]));

    const second = await authmachines("migrate", "--database", db.url);

    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe(`${maskedUrl(db.url)} is up to date (${migrations.length} migrations)\n`);
    expect(await db.query("SELECT id, applied_at FROM auth_migrations ORDER BY id")).toEqual(recorded);
    expect(await db.tableNames()).toEqual(tables);
  });

  it(`--print gives the ${dialect} script with every CREATE TABLE, and connects nowhere`, async () => {
    // Nothing answers there: a port nobody listens on, a file in a directory that does not exist.
    const missing = join(mkdtempSync(join(tmpdir(), "authmachines-")), "missing");
    const nowhere = onPostgres ? "postgres://nobody:secret@127.0.0.1:9/none" : `sqlite:${missing}/auth.db`;

    const printed = await authmachines("migrate", "--print", "--database", nowhere);
    const byDialect = await authmachines("migrate", "--print", "--dialect", dialect);

    expect(printed.code, printed.stderr).toBe(0);
    expect(byDialect.stdout).toBe(printed.stdout);
    for (const table of createdTables) {
      expect(printed.stdout).toContain(`CREATE TABLE ${table} (`);
    }
    expect(printed.stdout).toContain("CREATE TABLE IF NOT EXISTS auth_migrations");
    if (onPostgres) {
      expect(printed.stdout).toMatch(/^BEGIN;$/m);
      expect(printed.stdout).toContain("pg_advisory_xact_lock");
    } else {
      expect(printed.stdout).toMatch(/^BEGIN IMMEDIATE;$/m);
      expect(printed.stdout).not.toContain("pg_advisory_xact_lock");
      expect(existsSync(missing)).toBe(false);
    }
    expect(printed.stdout.trimEnd().endsWith("COMMIT;")).toBe(true);
  });

  it("--print's script builds the schema that migrate then finds complete", async () => {
    const db = await emptyDatabase();
    const printed = await authmachines("migrate", "--print", "--database", db.url);

    await db.exec(printed.stdout);
    const after = await authmachines("migrate", "--database", db.url);

    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain(`is up to date (${migrations.length} migrations)`);
    const recorded = await db.query<{ id: number; name: string }>("SELECT id, name FROM auth_migrations ORDER BY id");
    expect(recorded.map((row) => ({ id: Number(row.id), name: row.name }))).toEqual(
      migrations.map((migration) => ({ id: migration.id, name: migration.name })),
    );
  });

  it("refuses a command line it does not understand, with the usage", async () => {
    const run = await authmachines("migrate", "--print");

    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--print needs --dialect sqlite|pg or a --database URL");
    expect(run.stderr).toContain("usage:");
  });
});

describe("createAuth({ migrate: false })", () => {
  it("creates no table: on an unmigrated database it fails at start-up naming the command", async () => {
    const db = await emptyDatabase();

    const starting = createAuth({ secret: testSecret, database: db.url, mailer: { send: async () => undefined }, migrate: false });

    await expect(starting).rejects.toThrow(
      `lacks migrations ${migrations.map((migration) => `${migration.id} (${migration.name})`).join(", ")}, ` +
        "and createAuth was given migrate: false: run npx authmachines migrate --database <url> first",
    );
    expect(await db.tableNames()).toEqual([]);
  });

  it("after npx authmachines migrate, serves a signup on the migrated database", async () => {
    const db = await emptyDatabase();
    expect((await authmachines("migrate", "--database", db.url)).code).toBe(0);
    const recorded = await db.query("SELECT id, applied_at FROM auth_migrations ORDER BY id");

    h = await harness({ database: db.url, migrate: false, passwordHasher: fastHasher, account: { emailVerification: "none" } });
    const res = await signup(h.app(), { username: "alice" });

    expect(res.status).toBe(200);
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
    expect(await db.query("SELECT id, applied_at FROM auth_migrations ORDER BY id")).toEqual(recorded);
  });
});
