/**
 * Group commit (`sqliteGroupCommit`, SQLite at synchronous=FULL): steps ready to write together
 * share one COMMIT, each behind its own savepoint. A failing member leaves nothing and the others
 * stay; no member answers before the COMMIT that holds it; a COMMIT that fails fails every kept
 * member and leaves nothing; a process killed with a group open leaves nothing of any member;
 * races end as they do without it. SQLite files only.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { SqlClient } from "@effect/sql";
import Sqlite from "better-sqlite3";
import { Cause, Effect, Exit, Runtime } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import type { CreateAuthOptions } from "../../src/auth.ts";
import type { AuthConfig } from "../../src/config.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness, Recorded } from "../support/harness.ts";
import { statementCounter } from "../support/statement-counter.ts";
import { fastHasher, heldVerifier, raw } from "../http/support.ts";
import { GroupCommitter } from "../../src/runtime/group-commit.ts";

const dirs: Array<string> = [];
const open: Array<Harness> = [];
const children: Array<ChildProcess> = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
  }
  for (const h of open.splice(0)) {
    await h.close();
  }
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

function databaseFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "authmachines-group-"));
  dirs.push(dir);
  return join(dir, "auth.db");
}

/**
 * A fast hasher whose calls, once `arm(n, rounds)` is called, are held until `n` of them wait,
 * then answered together (`rounds` times): `n` concurrent steps then reach their writes at the
 * same moment.
 */
function gatedHasher() {
  let size = 0;
  let rounds = 0;
  let held: Array<() => void> = [];
  const gate = (): Promise<void> => {
    if (size === 0) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      held.push(resolve);
      if (held.length === size) {
        rounds -= 1;
        size = rounds > 0 ? size : 0;
        const release = held;
        held = [];
        release.forEach((go) => go());
      }
    });
  };
  return {
    arm: (n: number, times = 1) => {
      size = n;
      rounds = times;
    },
    hasher: {
      hash: async (p: string) => (await gate(), `fast$${p}`),
      verify: async (h: string, p: string) => (await gate(), h === `fast$${p}`),
    },
  };
}

async function groupHarness(file: string, config: Partial<AuthConfig> = {}, options: CreateAuthOptions = {}): Promise<Harness> {
  const h = await harness({ database: `sqlite:${file}`, sqliteGroupCommit: true, ...config }, options);
  open.push(h);
  return h;
}

/** `test/support/child.ts` on `database`; `seen` waits for a printed event, `events` lists them. */
function startChild(database: string, action: string) {
  const child = spawn(process.execPath, ["--import", "tsx", "test/support/child.ts"], {
    env: { ...process.env, CHILD_DATABASE: database, CHILD_ACTION: action },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const events: Array<string> = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    events.push((JSON.parse(line) as { event: string }).event);
    waiters.splice(0).forEach((wake) => wake());
  });
  const seen = async (event: string): Promise<void> => {
    while (!events.includes(event)) {
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const killed = () =>
    new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  return { events, seen, killed };
}

const account = { loginMethods: ["email"] as const, emailVerification: "none" as const, rateLimits: false as const };
const emails = (n: number, word = "user") => Array.from({ length: n }, (_, i) => `${word}${i}@example.com`);

/** Each user's signals in emission order, by email. */
function perUser(signals: ReadonlyArray<Recorded>): Record<string, Array<string>> {
  const by: Record<string, Array<string>> = {};
  for (const signal of signals) {
    const email = "user" in signal && signal.user !== null ? (signal.user as { email: string | null }).email : null;
    (by[email ?? "?"] ??= []).push(signal.type);
  }
  return by;
}

describe("group commit (sqliteGroupCommit)", () => {
  it("8 concurrent signups, then 8 concurrent logins: all succeed, each flow's signals in order, fewer COMMITs than steps", async () => {
    const gated = gatedHasher();
    const { counter, layer } = statementCounter();
    const h = await groupHarness(databaseFile(), { account, passwordHasher: gated.hasher }, { layer, tracing: true });
    const addresses = emails(8);
    expect(await h.query<{ s: number }>("PRAGMA synchronous")).toEqual([{ synchronous: 2 }]);

    gated.arm(8);
    counter.commits = 0;
    const signups = await Promise.all(addresses.map((email) => h.app().request("POST", "auth/signup", { email, password: goodPassword })));
    const signupCommits = counter.commits;
    expect(signups.map((r) => r.status)).toEqual(addresses.map(() => 200));
    expect(perUser(h.signals.splice(0))).toEqual(Object.fromEntries(addresses.map((email) => [email, ["user_signed_up", "user_logged_in"]])));
    expect(await h.count("auth_user")).toBe(8);
    expect(signupCommits).toBeLessThan(8);

    gated.arm(8);
    counter.commits = 0;
    const logins = await Promise.all(addresses.map((email) => h.app().request("POST", "auth/login", { email, password: goodPassword })));
    const loginCommits = counter.commits;
    expect(logins.map((r) => r.status)).toEqual(addresses.map(() => 200));
    expect(perUser(h.signals.splice(0))).toEqual(Object.fromEntries(addresses.map((email) => [email, ["user_logged_in"]])));
    expect(await h.count("auth_session")).toBe(16);
    expect(loginCommits).toBeLessThan(8);
    console.info(`group commit, c=8: ${signupCommits} COMMITs for 8 signups, ${loginCommits} for 8 logins`);
  });

  it("rate limits on: 8 concurrent logins in groups, one with a wrong password: only its failed attempt stays", async () => {
    const gated = gatedHasher();
    const h = await groupHarness(databaseFile(), { account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: gated.hasher });
    const addresses = emails(8);
    for (const email of addresses) {
      expect((await h.app().request("POST", "auth/signup", { email, password: goodPassword })).status).toBe(200);
    }
    h.signals.splice(0);
    gated.arm(8);
    const logins = await Promise.all(
      addresses.map((email, i) => h.app().request("POST", "auth/login", { email, password: i === 3 ? "not the password 1" : goodPassword })),
    );
    expect(logins.map((r) => r.status)).toEqual(addresses.map((_, i) => (i === 3 ? 400 : 200)));
    expect(perUser(h.signals.splice(0))).toEqual(Object.fromEntries(addresses.filter((_, i) => i !== 3).map((email) => [email, ["user_logged_in"]])));
    const failed = await h.query<{ bucket: string }>("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:%' ORDER BY bucket");
    // The seven correct passwords gave their attempts back inside their steps; the wrong one's
    // (its client's address, the 12th, and its account key) stays.
    expect(failed.map((row) => row.bucket.replace(/:account:[0-9a-f]+$/, ":account:…"))).toEqual([
      "login_failed:ip:10.0.1.12",
      "login_failed:key:account:…",
    ]);
  });

  it("a member whose in-step receiver throws rolls back to its savepoint alone: it leaves nothing, the others commit everything", async () => {
    const gated = gatedHasher();
    const { counter, layer } = statementCounter();
    const h = await groupHarness(databaseFile(), { account, passwordHasher: gated.hasher, outbox: { pollIntervalMs: false } }, { layer, tracing: true });
    h.auth.signals.on("user_signed_up", ({ user }) => {
      if (user.email === "bad@example.com") {
        throw new Error("receiver failed");
      }
    });
    const addresses = ["user0@example.com", "user1@example.com", "bad@example.com", "user2@example.com"];
    gated.arm(4);
    counter.commits = 0;
    const responses = await Promise.all(addresses.map((email) => h.app().request("POST", "auth/signup", { email, password: goodPassword })));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 500, 200]);
    // One group: the failing member went back to its savepoint, the outer transaction committed once.
    expect(counter.commits).toBe(1);
    const users = await h.query<{ email: string }>("SELECT email FROM auth_email_address ORDER BY email");
    expect(users.map((u) => u.email)).toEqual(["user0@example.com", "user1@example.com", "user2@example.com"]);
    expect(await h.count("auth_user")).toBe(3);
    expect(await h.count("auth_session")).toBe(3);
    // The failed signup's address is free: the same signup now succeeds.
    expect((await h.app().request("POST", "auth/signup", { email: "bad2@example.com", password: goodPassword })).status).toBe(200);
  });

  it("no member answers before the COMMIT that holds it: another connection sees its writes when its response resolves", async () => {
    const gated = gatedHasher();
    const { counter, layer } = statementCounter();
    const file = databaseFile();
    const h = await groupHarness(file, { account, passwordHasher: gated.hasher }, { layer, tracing: true });
    const reader = new Sqlite(file, { readonly: true });
    try {
      const addresses = emails(6);
      gated.arm(6);
      counter.commits = 0;
      const seen = await Promise.all(
        addresses.map(async (email) => {
          const response = await h.auth.handler(
            new Request("http://127.0.0.1/_allauth/app/v1/auth/signup", {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ email, password: goodPassword }),
            }),
            { ip: "10.3.3.3" },
          );
          // Read at once, on another connection: the step's rows are committed before it answers.
          const row = reader.prepare("SELECT COUNT(*) AS n FROM auth_email_address WHERE email = ?").get(email) as { n: number };
          return [response.status, row.n, counter.commits > 0];
        }),
      );
      expect(seen).toEqual(addresses.map(() => [200, 1, true]));
      expect(counter.commits).toBeLessThan(6);
    } finally {
      reader.close();
    }
  });

  it("a group whose COMMIT fails: every kept member fails, nothing of the group stays, and the next group commits", async () => {
    const file = databaseFile();
    const h = await groupHarness(file);
    // A deferred foreign key is checked at COMMIT: the one way here to make a COMMIT itself fail.
    await h.query("CREATE TABLE gc_parent (id INTEGER PRIMARY KEY)");
    await h.query("CREATE TABLE gc_child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES gc_parent (id) DEFERRABLE INITIALLY DEFERRED)");
    const write = (text: string) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(text));
    const committer = new GroupCommitter(h.auth.runtime, { maxMembers: 8, maxMs: 60_000 });
    const joining = [committer.join(), committer.join()];
    const first = await joining[0]!;
    await Runtime.runPromise(first.runtime)(write("INSERT INTO gc_parent (id) VALUES (1)"));
    const firstEnded = first.end(true);
    const second = await joining[1]!;
    await Runtime.runPromise(second.runtime)(write("INSERT INTO gc_child (id, parent) VALUES (1, 99)"));
    const ended = await Promise.all([firstEnded, second.end(true)]);
    const outcome = (exit: Exit.Exit<void, unknown>) =>
      Exit.isSuccess(exit) ? "committed" : (Cause.squash(exit.cause) as { cause?: { code?: string } }).cause?.code;
    expect(ended.map(outcome)).toEqual(["SQLITE_CONSTRAINT_FOREIGNKEY", "SQLITE_CONSTRAINT_FOREIGNKEY"]);
    expect([await h.count("gc_parent"), await h.count("gc_child")]).toEqual([0, 0]);
    const next = await committer.join();
    await Runtime.runPromise(next.runtime)(write("INSERT INTO gc_parent (id) VALUES (2)"));
    expect(Exit.isSuccess(await next.end(true))).toBe(true);
    // Committed: another connection sees it.
    const other = new Sqlite(file, { readonly: true });
    expect(other.prepare("SELECT id FROM gc_parent").all()).toEqual([{ id: 2 }]);
    other.close();
    expect(h.takeSignals()).toEqual([]);
  });

  it("a process killed with a group open leaves nothing of any member, and no member had answered", async () => {
    const file = databaseFile();
    const child = startChild(`sqlite:${file}`, "group-in-transaction");
    // Two members kept their writes (savepoints), the third hangs in its in-step receiver.
    for (const email of ["ann@example.com", "bob@example.com", "hang@example.com"]) {
      await child.seen(`in-step ${email}`);
    }
    await child.killed();
    // In order, and nobody answered: ann's and bob's savepoints were kept, waiting for the COMMIT.
    expect(child.events.filter((event) => /^(in-step|answered) /.test(event))).toEqual([
      "in-step ann@example.com",
      "in-step bob@example.com",
      "in-step hang@example.com",
    ]);

    const h = await groupHarness(file, { account, passwordHasher: fastHasher });
    // Only the warm-up signup, committed before the group, stays.
    expect(await h.query("SELECT email FROM auth_email_address")).toEqual([{ email: "warm@example.com" }]);
    for (const table of ["auth_user", "auth_session"]) {
      expect(await h.count(table), table).toBe(1);
    }
    // The addresses are free: the same signups now succeed.
    const again = await Promise.all(
      ["ann@example.com", "bob@example.com"].map((email) => h.app().request("POST", "auth/signup", { email, password: goodPassword })),
    );
    expect(again.map((r) => r.status)).toEqual([200, 200]);
    expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in", "user_signed_up", "user_logged_in"]);
  }, 60_000);

  it("race: the same password change sent twice at once, both in one group, changes it once and mails one notice (CC-02)", async () => {
    const gated = gatedHasher();
    const { counter, layer } = statementCounter();
    const h = await groupHarness(
      databaseFile(),
      { account: { ...account, emailNotifications: true }, passwordHasher: gated.hasher, outbox: { pollIntervalMs: false } },
      { layer, tracing: true },
    );
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    h.takeSignals();
    const change = { current_password: goodPassword, new_password: "a fresh passphrase 123" };
    const send = () => raw(h, "POST", "app/v1/account/password/change", { headers: { "x-session-token": client.token! }, body: change });
    // Both checks of the current password pass together, then both hashes of the new one: the two
    // steps reach their writes at the same moment.
    gated.arm(2, 2);
    counter.commits = 0;
    const answers = await Promise.all([send(), send()]);
    await h.auth.outbox.settled();
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400]);
    // One COMMIT for both steps (the loser went back to its savepoint), then the outbox's claim
    // and delivery of the notice.
    expect(counter.commits).toBe(3);
    expect(h.takeSignals()).toEqual(["password_changed"]);
    expect(h.takeMails().map((m) => m.subject)).toEqual(["[example.com] Password Changed"]);
    const [user] = await h.query<{ password: string }>("SELECT password FROM auth_user");
    expect(user!.password).toBe("fast$a fresh passphrase 123");
  });

  it("race: a login with the old password racing a password change never leaves a live session with the old password (CC-08)", async () => {
    const held = heldVerifier();
    const h = await groupHarness(databaseFile(), { account: { ...account, logoutOnPasswordChange: true }, passwordHasher: held.hasher });
    const owner = h.app();
    expect((await owner.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    held.arm();
    const intruder = h.app();
    const login = intruder.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    await held.held();
    const change = await owner.request("POST", "account/password/change", { current_password: goodPassword, new_password: "a fresh passphrase 123" });
    expect([change.status, change.body.meta.is_authenticated]).toEqual([401, false]);
    expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in", "user_logged_out", "password_changed"]);
    held.release();
    const late = await login;
    // As without group commit: the password error, no session, no signal.
    expect([late.status, late.body.errors?.map((e: { code: string }) => e.code)]).toEqual([400, ["email_password_mismatch"]]);
    expect(h.takeSignals()).toEqual([]);
    expect(await h.count("auth_session")).toBe(0);
  });
});
