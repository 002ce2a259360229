/**
 * A SQLite file that fails under a running server (SECURITY.md SE-11, LG-04), through the Node
 * adapter on a real `node:http` server, each time with the process' unhandled rejections
 * watched. What each outage really does on Linux, in WAL mode:
 *  - Locked: another connection holds the write lock (`BEGIN IMMEDIATE` and a write; `BEGIN
 *    EXCLUSIVE` is the same in WAL mode, and `locking_mode=EXCLUSIVE` cannot even be taken while
 *    the server has the file open). Readers never wait, so a request that only reads answers 200;
 *    one that writes retries for `busyTimeoutMs`, then answers 503, reported with the
 *    `SQLITE_BUSY` under it. Once the lock is released, a login works.
 *  - Removed: the connection's open descriptors keep the removed file, `-wal` and `-shm` (even
 *    with their directory gone) alive, so nothing fails: requests answer 200 and writes go on in
 *    a file no path names, lost when the process ends. Nothing is reported, because nothing failed.
 *  - Replaced in place: other bytes written over the file (as `cp` over it does: the same inode).
 *    SQLite sees it once its WAL index changes (here: the `-shm` header cleared, as a connection
 *    recovering the WAL would find it); then every statement fails with `SQLITE_NOTADB`, and
 *    every request answers 503, reported. The database's own bytes written back, it serves again.
 */
import Database from "better-sqlite3";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { goodPassword } from "../support/harness.ts";
import { call, cleanUp, cleanups, expectBack, expectOutage, expectReported, logIn, rejections, serve } from "../support/outage.ts";
import type { Setup } from "../support/outage.ts";

afterEach(cleanUp);

const busyTimeoutMs = 300;

async function serveFile(): Promise<Setup & { readonly dir: string; readonly file: string }> {
  const dir = mkdtempSync(join(tmpdir(), "authmachines-outage-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "auth.db");
  return { ...(await serve(`sqlite:${file}`, { busyTimeoutMs })), dir, file };
}

/** The `code`s along an error's `cause` chain. */
function codes(error: unknown): Array<string> {
  const found: Array<string> = [];
  for (let current = error; typeof current === "object" && current !== null; current = (current as { cause?: unknown }).cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") {
      found.push(code);
    }
  }
  return found;
}

/** Clears the `-shm` header: the server's connection finds its WAL index changed, and reads the file again. */
function invalidateWalIndex(file: string): void {
  const fd = openSync(`${file}-shm`, "r+");
  try {
    writeSync(fd, Buffer.alloc(32 * 1024));
  } finally {
    closeSync(fd);
  }
}

describe("SE-11, LG-04: a SQLite file locked, removed or replaced under the server", () => {
  it("locked by another connection: reads answer 200, writes 503 after busyTimeoutMs, reported; released, a login works", async () => {
    const setup = await serveFile();
    const who = await logIn(setup.port);
    const other = new Database(setup.file);
    cleanups.push(() => void (other.open && other.close()));
    other.exec("BEGIN IMMEDIATE");
    other.exec("DELETE FROM auth_session");

    // Reading the session needs no lock.
    expect((await call(setup.port, "GET", "browser/v1/auth/session", { cookie: who.cookie })).status).toBe(200);
    expect((await call(setup.port, "GET", "app/v1/auth/session", { "x-session-token": who.token })).status).toBe(200);
    expect(setup.reports).toEqual([]);

    const writes = [
      () => call(setup.port, "POST", "app/v1/auth/login", {}, { email: "alice@example.com", password: goodPassword }),
      () =>
        call(
          setup.port,
          "POST",
          "browser/v1/auth/reauthenticate",
          { cookie: who.cookie, "x-csrftoken": who.csrf },
          { password: goodPassword },
        ),
    ];
    for (const write of writes) {
      const started = Date.now();
      const answer = await write();
      const waited = Date.now() - started;
      expect(answer).toMatchObject({ status: 503, body: { status: 503 } });
      expect(Object.keys(answer.body)).toEqual(["status"]);
      // It waited for the lock, and no longer than it was told to.
      expect(waited).toBeGreaterThanOrEqual(busyTimeoutMs);
      expect(waited).toBeLessThan(busyTimeoutMs + 3000);
    }
    expect(setup.reports).toHaveLength(writes.length);
    expectReported(setup);
    for (const { error } of setup.reports) {
      expect(codes(error)).toContain("SQLITE_BUSY");
    }

    other.exec("ROLLBACK");
    other.close();
    const login = await call(setup.port, "POST", "app/v1/auth/login", {}, { email: "alice@example.com", password: goodPassword });
    expect(login.status).toBe(200);
    await expectBack(setup, who);
    expect(setup.reports).toHaveLength(writes.length);
  });

  it("removed, with its -wal, -shm and directory: the open file goes on serving, and nothing is reported", async () => {
    const setup = await serveFile();
    const who = await logIn(setup.port);
    rmSync(setup.dir, { recursive: true, force: true });

    const login = await call(setup.port, "POST", "app/v1/auth/login", {}, { email: "alice@example.com", password: goodPassword });
    expect(login.status).toBe(200);
    await expectBack(setup, who);
    expect(await setup.h.count("auth_session")).toBe(3);
    expect(setup.reports).toEqual([]);
    expect(rejections).toEqual([]);
  });

  it("replaced in place by bytes that are no database: every request answers 503, reported; written back, it serves again", async () => {
    const setup = await serveFile();
    const who = await logIn(setup.port);
    // Everything in the file itself, and the WAL empty: its bytes are the whole database.
    await setup.h.query("PRAGMA wal_checkpoint(TRUNCATE)");
    const saved = readFileSync(setup.file);
    writeFileSync(setup.file, Buffer.alloc(saved.length, "not a database "));
    invalidateWalIndex(setup.file);

    await expectOutage(setup, who, [503]);
    for (const { error } of setup.reports) {
      expect(codes(error)).toContain("SQLITE_NOTADB");
    }
    const login = await call(setup.port, "POST", "app/v1/auth/login", {}, { email: "alice@example.com", password: goodPassword });
    expect(login).toMatchObject({ status: 503, body: { status: 503 } });

    writeFileSync(setup.file, saved);
    invalidateWalIndex(setup.file);
    await expectBack(setup, who);
  });
});
