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
import { takeHits } from "../../src/storage/rate-limits.ts";
import { withWriteTransaction } from "../../src/storage/write-transaction.ts";
import { statementCounter } from "../support/statement-counter.ts";
import type { StatementCounter } from "../support/statement-counter.ts";

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
 * The transaction control statements SQLite runs while `during` runs (PRAGMA, BEGIN, COMMIT,
 * ROLLBACK), seen where better-sqlite3 runs them (prepared once, they are run again and again).
 */
async function sqliteControl(during: () => Promise<unknown>): Promise<Array<string>> {
  const seen: Array<string> = [];
  const probe = new Sqlite(":memory:");
  type Run = (this: { readonly source: string }, ...params: Array<unknown>) => unknown;
  const prototype = Object.getPrototypeOf(probe.prepare("SELECT 1")) as { run: Run; all: Run };
  probe.close();
  const { run, all } = prototype;
  const watched = (original: Run): Run =>
    function (...params) {
      if (/^(PRAGMA synchronous|BEGIN|COMMIT|ROLLBACK)/i.test(this.source.trim())) {
        seen.push(this.source.trim());
      }
      return original.apply(this, params);
    };
  prototype.run = watched(run);
  prototype.all = watched(all);
  try {
    await during();
  } finally {
    prototype.run = run;
    prototype.all = all;
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

/**
 * What the commit of `during` looked like: on SQLite, the control statements it sent; on
 * PostgreSQL, the statements that touched `synchronous_commit` and how many transactions committed.
 */
async function observe(counter: StatementCounter, during: () => Promise<unknown>): Promise<Array<string>> {
  if (!onPostgres) {
    return sqliteControl(during);
  }
  counter.commits = 0;
  counter.statements.length = 0;
  await during();
  return [...counter.statements.filter((text) => /synchronous_commit/.test(text)), `${counter.commits} committed`];
}

/** The connection is back to durable commits: `synchronous` 2 on SQLite, `synchronous_commit` on on PostgreSQL. */
async function expectDurableAgain(h: Harness): Promise<void> {
  if (onPostgres) {
    const [setting] = await h.query<{ synchronous_commit: string }>("SHOW synchronous_commit");
    expect(setting!.synchronous_commit).toBe("on");
    return;
  }
  const [row] = await h.query<{ synchronous: number }>("PRAGMA synchronous");
  expect(Number(row!.synchronous)).toBe(2);
}

const prompt = ["PRAGMA synchronous", "PRAGMA synchronous = NORMAL", "BEGIN IMMEDIATE"];
const promptOff = "SET LOCAL synchronous_commit TO OFF";

describe("the attempt's prompt commit", () => {
  it("a wrong password: the attempt commits promptly in a transaction of its own, then commits are durable again", async () => {
    const { h, counter } = await open();
    await expectDurableAgain(h);
    const seen = await observe(counter, async () => {
      const wrong = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: "not the password" });
      expect(wrong.status).toBe(400);
    });
    expect(seen).toEqual(onPostgres ? [promptOff, "1 committed"] : [...prompt, "COMMIT", "PRAGMA synchronous = 2"]);
    await expectDurableAgain(h);
    expect(h.takeSignals()).toEqual([]);
    // The attempt counts: one row in the account's login_failed bucket, one in the IP's.
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:%'")).toHaveLength(2);
  });

  it("a correct password: the attempt's prompt commit, then the login's durable one (one flush)", async () => {
    const { h, counter } = await open();
    const seen = await observe(counter, async () => {
      const right = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
      expect(right.status).toBe(200);
    });
    expect(seen).toEqual(onPostgres ? [promptOff, "2 committed"] : [...prompt, "COMMIT", "PRAGMA synchronous = 2", "BEGIN IMMEDIATE", "COMMIT"]);
    await expectDurableAgain(h);
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
    // Given back with the login's commit.
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:%'")).toHaveLength(0);
  });

  it("a spent login limit rolls the prompt transaction back, takes nothing, and commits are durable again", async () => {
    const { h, counter } = await open({ login: "1/m/ip" });
    const client = h.app();
    expect((await client.request("POST", "auth/login", { email: "ann@example.com", password: "not the password" })).status).toBe(400);
    const seen = await observe(counter, async () => {
      const limited = await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
      expect(limited.status).toBe(429);
    });
    expect(seen).toEqual(onPostgres ? [promptOff, "0 committed"] : [...prompt, "ROLLBACK", "PRAGMA synchronous = 2"]);
    await expectDurableAgain(h);
    expect(h.takeSignals()).toEqual([]);
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:%'")).toHaveLength(2);
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login:%'")).toHaveLength(1);
  });

  it("inside an open write transaction the prompt transaction is a savepoint of it (no second reservation of the connection)", async () => {
    const { h } = await open();
    let n = 0;
    const taken = await h.auth.runtime.runPromise(
      withWriteTransaction(takeHits([{ bucket: "nested:test", amount: 2, periodInMs: 60_000 }], Date.now(), () => `nested-${++n}`)),
    );
    expect(Array.isArray(taken) ? taken.map((hit) => [hit.bucket, hit.id]) : taken).toEqual([["nested:test", "nested-1"]]);
    expect(await h.query("SELECT id FROM auth_rate_limit WHERE bucket = 'nested:test'")).toEqual([{ id: "nested-1" }]);
    expect(h.takeSignals()).toEqual([]);
    await expectDurableAgain(h);
  });
});
