/**
 * Flows and deliveries survive the death of the process that started them (SIGKILL): a pending
 * code verification is finished by another process, and mails and durable signals committed but
 * not yet delivered are delivered by the next process, once. Runs on SQLite (a file) and
 * PostgreSQL.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import type { Mail, MailDelivery } from "../../src/services/mailer.ts";
import { onPostgres, testDatabase } from "../support/database.ts";
import { harness, keyFromMail } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

const children: Array<ChildProcess> = [];
const dirs: Array<string> = [];
afterEach(() => {
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
  }
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A database both processes can open: a SQLite file, or the worker's PostgreSQL schema (emptied). */
async function sharedDatabase(): Promise<string> {
  if (onPostgres) {
    const db = await testDatabase();
    const probe = await harness({ database: db.url });
    await db.reset((text) => probe.query(text));
    await probe.close();
    return db.url;
  }
  const dir = mkdtempSync(join(tmpdir(), "authmachines-durable-"));
  dirs.push(dir);
  return `sqlite:${join(dir, "auth.db")}`;
}

/** Starts the child and resolves each JSON line it prints, by event name. */
function startChild(database: string, action: string): { child: ChildProcess; next: (event: string) => Promise<Record<string, any>> } {
  const child = spawn(process.execPath, ["--import", "tsx", "test/support/child.ts"], {
    env: { ...process.env, CHILD_DATABASE: database, CHILD_ACTION: action },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const lines: Array<Record<string, any>> = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(JSON.parse(line) as Record<string, any>);
    waiters.splice(0).forEach((wake) => wake());
  });
  const next = async (event: string): Promise<Record<string, any>> => {
    for (;;) {
      const found = lines.find((line) => line["event"] === event);
      if (found !== undefined) {
        return found;
      }
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { child, next };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

const account = { loginMethods: ["email"] as const, emailVerification: "mandatory" as const };

/** Waits until the child's step has committed and the child has claimed its mail (and hangs in it). */
async function mailClaimed(database: string): Promise<void> {
  const probe = await harness({ database, passwordHasher: fastHasher, outbox: { pollIntervalMs: false } });
  for (;;) {
    const rows = await probe.query<{ kind: string; attempts: number }>("SELECT kind, attempts FROM auth_outbox");
    if (rows.some((row) => row.kind === "mail" && Number(row.attempts) === 1)) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await probe.close();
}

describe("durability across processes", () => {
  it("a signup started in a killed process is confirmed in another: email_confirmed and user_logged_in once", async () => {
    const database = await sharedDatabase();
    const { child, next } = startChild(database, "signup-code");
    const signedUp = await next("signed-up");
    expect(signedUp["status"]).toBe(401);
    await killed(child);

    const h: Harness = await harness({
      database,
      account: { ...account, emailVerificationByCodeEnabled: true },
      passwordHasher: fastHasher,
      outbox: { pollIntervalMs: false },
    });
    const client = h.app();
    client.token = signedUp["token"] as string;
    const confirmed = await client.request("POST", "auth/email/verify", { key: signedUp["code"] });
    expect(confirmed.status).toBe(200);
    expect(h.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
    const again = await client.request("POST", "auth/email/verify", { key: signedUp["code"] });
    expect(again.status).toBe(409);
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  }, 60_000);

  it("mail and durable signals committed by a process killed before delivery are delivered by the next one, once, and the link works (DD-02)", async () => {
    const database = await sharedDatabase();
    const { child, next } = startChild(database, "signup-hang");
    await next("requested");
    await mailClaimed(database);
    await killed(child);

    const seen = new Set<string>();
    const delivered: Array<Mail> = [];
    const consumer = {
      // A consumer that honours the idempotency key: a redelivery is dropped.
      send: async (mail: Mail, delivery: MailDelivery) => {
        if (!seen.has(delivery.idempotencyKey)) {
          seen.add(delivery.idempotencyKey);
          delivered.push(mail);
        }
      },
    };
    const h = await harness({ database, account, passwordHasher: fastHasher, mailer: consumer, outbox: { pollIntervalMs: false } });
    const signals: Array<string> = [];
    h.auth.signals.after("user_signed_up", (signal) => {
      if (!seen.has(signal.idempotencyKey)) {
        seen.add(signal.idempotencyKey);
        signals.push(signal.user.email ?? "");
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 400)); // the dead child's lease (300 ms) runs out
    expect(await h.auth.outbox.drain()).toBe(2);
    expect(delivered.map((mail) => mail.to)).toEqual(["ann@example.com"]);
    expect(signals).toEqual(["ann@example.com"]);
    // The link in the mail the dead process committed works.
    await h.app().request("POST", "auth/email/verify", { key: keyFromMail(delivered[0]!) });
    expect(h.takeSignals()).toEqual(["email_confirmed"]);
    expect(await h.auth.outbox.drain()).toBe(0);
    expect(await h.auth.outbox.list("pending")).toEqual([]);
    await h.close();
  }, 60_000);

  it("a process killed with the step's transaction open leaves no user, no key and no mail, ever (DD-02)", async () => {
    const database = await sharedDatabase();
    const { child, next } = startChild(database, "signup-in-transaction");
    await next("in-transaction");
    await killed(child);

    const delivered: Array<Mail> = [];
    const h = await harness({ database, account, passwordHasher: fastHasher, mailer: { send: async (mail: Mail) => void delivered.push(mail) }, outbox: { pollIntervalMs: false } });
    for (const table of ["auth_user", "auth_email_address", "auth_verification", "auth_outbox"]) {
      expect(await h.count(table), table).toBe(0);
    }
    expect(await h.auth.outbox.drain()).toBe(0);
    expect(delivered).toEqual([]);
    // The address is free: the same signup now succeeds.
    expect((await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: "correct horse battery staple 42" })).status).toBe(401);
    expect(h.takeSignals()).toEqual(["user_signed_up", "email_confirmation_sent"]);
    await h.close();
  }, 60_000);

  it("a wrong password's attempt, committed without waiting for the disk, survives the process killed with -9 right after the answer (TH-03)", async () => {
    const database = await sharedDatabase();
    const { child, next } = startChild(database, "login-wrong");
    expect((await next("answered"))["status"]).toBe(400);
    await killed(child);

    const h = await harness({ database, account, passwordHasher: fastHasher, outbox: { pollIntervalMs: false } });
    const buckets = await h.query<{ bucket: string }>("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:%' ORDER BY bucket");
    expect(buckets.map((row) => row.bucket.split(":").slice(0, 2).join(":"))).toEqual(["login_failed:ip", "login_failed:key"]);
    await h.close();
  }, 60_000);

  it("with the default lease and poll interval, a mail claimed by a process killed with -9 is sent by a live instance within 15 s", async () => {
    const database = await sharedDatabase();
    const { child, next } = startChild(database, "signup-hang-defaults");
    await next("requested");
    await mailClaimed(database);
    await killed(child);
    const killedAt = Date.now();

    // A live instance with the default outbox options: its own poller finds the dead claim.
    let sentAt = 0;
    const h = await harness({
      database,
      account,
      passwordHasher: fastHasher,
      mailer: { send: async () => void (sentAt ||= Date.now()) },
    });
    expect(h.auth.config.outbox.leaseMs).toBe(8_000);
    expect(h.auth.config.outbox.pollIntervalMs).toBe(5_000);
    while (sentAt === 0 && Date.now() - killedAt < 20_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const retryDelay = sentAt - killedAt;
    console.log(`kill -9 retry delay: ${retryDelay} ms`);
    expect(sentAt).toBeGreaterThan(0);
    expect(retryDelay).toBeLessThan(15_000);
    expect((await h.auth.outbox.list("pending")).filter((row) => row.kind === "mail")).toEqual([]);
    await h.close();
  }, 60_000);
});
