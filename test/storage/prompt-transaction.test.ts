/**
 * A password check's attempt (SECURITY.md TH-03) is committed before the hash without waiting for
 * the disk (`withPromptTransaction`): on SQLite at `synchronous = NORMAL` for that one transaction,
 * on PostgreSQL with `synchronous_commit` off. The step after the hash commits durably, so a login
 * with rate limits on pays one flush. The attempt still counts at once for every other request.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { fastHasher } from "../http/support.ts";
import { onPostgres } from "../support/database.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { statementCounter } from "../support/statement-counter.ts";

const account = { loginMethods: ["email" as const], emailVerification: "none" as const };
const dirs: Array<string> = [];
const opened: Array<Harness> = [];
afterEach(async () => {
  for (const h of opened.splice(0)) {
    await h.close();
  }
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The transaction control statements SQLite is sent while `during` runs (PRAGMA, BEGIN, COMMIT,
 * ROLLBACK), seen where better-sqlite3 prepares them; `writes` are the rate-limit rows written.
 */
async function sqliteControl(during: () => Promise<unknown>): Promise<Array<string>> {
  const seen: Array<string> = [];
  const prototype = Sqlite.prototype as unknown as { prepare: (this: unknown, text: string, ...rest: Array<unknown>) => unknown };
  const prepare = prototype.prepare;
  prototype.prepare = function (text, ...rest) {
    if (/^(PRAGMA synchronous|BEGIN|COMMIT|ROLLBACK)/i.test(text.trim())) {
      seen.push(text.trim());
    }
    return prepare.call(this, text, ...rest);
  };
  try {
    await during();
  } finally {
    prototype.prepare = prepare;
  }
  return seen;
}

async function open(rateLimits?: Record<string, string>) {
  const { counter, layer } = statementCounter();
  const dir = mkdtempSync(join(tmpdir(), "authmachines-prompt-"));
  dirs.push(dir);
  const h = await harness(
    {
      ...(onPostgres ? {} : { database: `sqlite:${join(dir, "auth.db")}` }),
      account: rateLimits === undefined ? account : { ...account, rateLimits },
      passwordHasher: fastHasher,
    },
    { layer, tracing: true },
  );
  opened.push(h);
  const signup = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
  expect(signup.status).toBe(200);
  expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in"]);
  counter.commits = 0;
  counter.statements.length = 0;
  return { h, counter };
}

async function synchronous(h: Harness): Promise<number> {
  const [row] = await h.query<{ synchronous: number }>("PRAGMA synchronous");
  return Number(row!.synchronous);
}

describe.runIf(!onPostgres)("the attempt's prompt commit on SQLite", () => {
  it("a wrong password: the attempt commits at NORMAL in a transaction of its own, then synchronous is FULL again", async () => {
    const { h } = await open();
    expect(await synchronous(h)).toBe(2);
    const control = await sqliteControl(async () => {
      const wrong = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: "not the password" });
      expect(wrong.status).toBe(400);
    });
    expect(control).toEqual(["PRAGMA synchronous", "PRAGMA synchronous = NORMAL", "BEGIN IMMEDIATE", "COMMIT", "PRAGMA synchronous = 2"]);
    expect(await synchronous(h)).toBe(2);
    expect(h.takeSignals()).toEqual([]);
    // The attempt counts: one row in the account's login_failed bucket, one in the IP's.
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:%'")).toHaveLength(2);
  });

  it("a correct password: the attempt's prompt commit, then the login's durable one (one flush)", async () => {
    const { h } = await open();
    const control = await sqliteControl(async () => {
      const right = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
      expect(right.status).toBe(200);
    });
    expect(control).toEqual([
      "PRAGMA synchronous",
      "PRAGMA synchronous = NORMAL",
      "BEGIN IMMEDIATE",
      "COMMIT",
      "PRAGMA synchronous = 2",
      "BEGIN",
      "COMMIT",
    ]);
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
    // Given back with the login's commit.
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:%'")).toHaveLength(0);
  });

  it("a spent login limit rolls the prompt transaction back, takes nothing, and restores synchronous", async () => {
    const { h } = await open({ login: "1/m/ip" });
    const client = h.app();
    expect((await client.request("POST", "auth/login", { email: "ann@example.com", password: "not the password" })).status).toBe(400);
    const control = await sqliteControl(async () => {
      const limited = await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
      expect(limited.status).toBe(429);
    });
    expect(control).toEqual(["PRAGMA synchronous", "PRAGMA synchronous = NORMAL", "BEGIN IMMEDIATE", "ROLLBACK", "PRAGMA synchronous = 2"]);
    expect(await synchronous(h)).toBe(2);
    expect(h.takeSignals()).toEqual([]);
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:%'")).toHaveLength(2);
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login:%'")).toHaveLength(1);
  });
});

describe.runIf(onPostgres)("the attempt's prompt commit on PostgreSQL", () => {
  it("the attempt's transaction turns synchronous_commit off for itself; the login's commit is durable", async () => {
    const { h, counter } = await open();
    const right = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(right.status).toBe(200);
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
    expect(counter.commits).toBe(2);
    expect(counter.statements.filter((text) => /synchronous_commit/.test(text))).toEqual(["SET LOCAL synchronous_commit TO OFF"]);
    const [setting] = await h.query<{ synchronous_commit: string }>("SHOW synchronous_commit");
    expect(setting!.synchronous_commit).toBe("on");
  });
});
