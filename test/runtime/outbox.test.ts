/**
 * The transactional outbox (SECURITY.md DD-02, DD-03): mails and durable signals are rows written
 * with the step, delivered after commit at least once, retried with backoff, dead-lettered, and
 * never sent for a rolled-back step; a mail sent again carries the same key as the first copy.
 * Runs on SQLite and PostgreSQL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestClock, TestContext } from "effect";
import { describe, expect, it } from "vitest";
import type { Mail, MailDelivery } from "../../src/services/mailer.ts";
import { goodPassword, harness, keyFromMail } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

const account = { loginMethods: ["email"] as const, emailVerification: "mandatory" as const };

/** A mailer that fails its first `failures` sends, recording every attempt. */
function flakyMailer(failures: number) {
  const attempts: Array<{ to: string; key: string }> = [];
  const delivered: Array<Mail> = [];
  return {
    attempts,
    delivered,
    send: async (mail: Mail, delivery: MailDelivery) => {
      attempts.push({ to: mail.to, key: delivery.idempotencyKey });
      if (attempts.length <= failures) {
        throw new Error("smtp down");
      }
      delivered.push(mail);
    },
  };
}

interface OutboxRowView {
  id: string;
  status: string;
  attempts: number;
  payload: string;
  last_error: string | null;
}

const rows = (h: Harness) => h.query<OutboxRowView>("SELECT id, status, attempts, payload, last_error FROM auth_outbox ORDER BY created_at, id");

describe("outbox", () => {
  it("delivers a step's mail after commit, and keeps no link or key once it is delivered (DD-02)", async () => {
    const h = await harness({ account, passwordHasher: fastHasher, outbox: { pollIntervalMs: false } });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(h.mails).toHaveLength(1);
    const key = keyFromMail(h.mails[0]!);
    const [row] = await rows(h);
    expect(row).toMatchObject({ status: "delivered", attempts: 1 });
    expect(row!.payload).not.toContain(key);
    expect(JSON.parse(row!.payload)).toEqual({ to: "ann@example.com", subject: h.mails[0]!.subject });
    await h.close();
  });

  it("answers as usual when the mail transport fails, then retries with backoff and the same idempotency key", async () => {
    const mailer = flakyMailer(2);
    const h = await harness(
      { account, passwordHasher: fastHasher, mailer, outbox: { pollIntervalMs: false } },
      { layer: TestContext.TestContext },
    );
    const response = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(response.status).toBe(401);
    expect(h.takeSignals()).toEqual(["user_signed_up", "email_confirmation_sent"]);
    let [row] = await rows(h);
    expect(row).toMatchObject({ status: "pending", attempts: 1, last_error: "smtp down" });

    expect(await h.auth.outbox.drain()).toBe(0); // not due yet: backoff
    await h.auth.runtime.runPromise(TestClock.adjust("2 seconds"));
    expect(await h.auth.outbox.drain()).toBe(0); // second attempt fails too
    [row] = await rows(h);
    expect(row).toMatchObject({ status: "pending", attempts: 2 });
    await h.auth.runtime.runPromise(TestClock.adjust("4 seconds"));
    expect(await h.auth.outbox.drain()).toBe(1);
    [row] = await rows(h);
    expect(row).toMatchObject({ status: "delivered", attempts: 3 });
    expect(mailer.delivered).toHaveLength(1);
    expect(new Set(mailer.attempts.map((a) => a.key))).toEqual(new Set([row!.id]));
    // The link in the retried mail still works.
    const verified = await h.app().request("POST", "auth/email/verify", { key: keyFromMail(mailer.delivered[0]!) });
    expect([200, 401]).toContain(verified.status);
    expect(h.takeSignals()).toEqual(["email_confirmed"]);
    await h.close();
  });

  it("a mail the transport took but the outbox did not record is sent again with the same key; the key works once (DD-03)", async () => {
    const copies: Array<{ mail: Mail; key: string }> = [];
    // The server accepted the message, then the connection broke before the outbox heard of it.
    const mailer = {
      send: async (mail: Mail, delivery: MailDelivery) => {
        copies.push({ mail, key: delivery.idempotencyKey });
        if (copies.length === 1) {
          throw new Error("connection lost after DATA");
        }
      },
    };
    const h = await harness({ account, passwordHasher: fastHasher, mailer, outbox: { pollIntervalMs: false } }, { layer: TestContext.TestContext });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();
    await h.auth.runtime.runPromise(TestClock.adjust("2 seconds"));
    expect(await h.auth.outbox.drain()).toBe(1);
    expect(copies).toHaveLength(2);
    expect(copies[1]!.key).toBe(copies[0]!.key);
    const [first, second] = copies.map((copy) => keyFromMail(copy.mail));
    expect(second).toBe(first);
    expect(copies[1]!.mail.text).toBe(copies[0]!.mail.text);
    const verified = await h.app().request("POST", "auth/email/verify", { key: first });
    expect([200, 401]).toContain(verified.status);
    expect(h.takeSignals()).toEqual(["email_confirmed"]);
    const again = await h.app().request("POST", "auth/email/verify", { key: second });
    expect(again.status).not.toBe(200);
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });

  it("dead-letters a row after maxAttempts; it can be listed and retried", async () => {
    const mailer = flakyMailer(3);
    const h = await harness(
      { account, passwordHasher: fastHasher, mailer, outbox: { pollIntervalMs: false, maxAttempts: 2 } },
      { layer: TestContext.TestContext },
    );
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    await h.auth.runtime.runPromise(TestClock.adjust("1 hour"));
    await h.auth.outbox.drain();
    const dead = await h.auth.outbox.list("dead");
    expect(dead).toMatchObject([{ kind: "mail", topic: "mail", status: "dead", attempts: 2, lastError: "smtp down" }]);
    expect(JSON.stringify(dead)).not.toContain("verify-email");
    expect(await h.auth.outbox.retry(dead[0]!.id)).toBe(true);
    expect(await h.auth.outbox.drain()).toBe(0); // third failure (mailer fails 3 times)
    await h.auth.runtime.runPromise(TestClock.adjust("1 hour"));
    expect(await h.auth.outbox.drain()).toBe(1);
    expect(mailer.delivered).toHaveLength(1);
    expect(await h.auth.outbox.list("dead")).toEqual([]);
    expect(await h.auth.outbox.retry(dead[0]!.id)).toBe(false); // delivered rows stay delivered
    await h.close();
  });

  it("delivers durable signals after commit as plain JSON with an idempotency key, retrying a failing receiver", async () => {
    const h = await harness(
      { account: { ...account, emailVerification: "none" }, passwordHasher: fastHasher, outbox: { pollIntervalMs: false } },
      { layer: TestContext.TestContext },
    );
    const received: Array<unknown> = [];
    let failures = 1;
    h.auth.signals.after("user_signed_up", async (signal) => {
      received.push(JSON.parse(JSON.stringify(signal)));
      if (failures-- > 0) {
        throw new Error("crm down");
      }
    });
    const response = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(response.status).toBe(200);
    expect(received).toHaveLength(1);
    await h.auth.runtime.runPromise(TestClock.adjust("2 seconds"));
    expect(await h.auth.outbox.drain()).toBe(1);
    expect(received).toHaveLength(2);
    expect(received[0]).toEqual(received[1]);
    const signal = received[0] as Record<string, any>;
    expect(signal["type"]).toBe("user_signed_up");
    expect(signal["user"]).toMatchObject({ email: "ann@example.com" });
    expect(signal["request"]).toEqual({ client: "app", ip: expect.any(String), userAgent: "vitest", userId: null });
    expect(typeof signal["idempotencyKey"]).toBe("string");
    expect(JSON.stringify(signal)).not.toContain(goodPassword);
    // Only signals with an after-receiver are written out.
    expect((await rows(h)).length).toBe(1);
    await h.close();
  });

  it("writes nothing to the outbox for a step a receiver rolled back (DD-02)", async () => {
    const h = await harness({ account, passwordHasher: fastHasher, outbox: { pollIntervalMs: false } });
    h.auth.signals.after("user_signed_up", () => undefined);
    h.auth.signals.on("email_confirmation_sent", () => {
      throw new Error("veto");
    });
    const response = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(response.status).toBe(500);
    expect(await h.count("auth_outbox")).toBe(0);
    expect(h.mails).toEqual([]);
    await h.close();
  });

  it("two instances draining one outbox deliver each row once", async () => {
    // One database two instances can share: a SQLite file, or the test's PostgreSQL schema.
    const probe = await harness({ account, passwordHasher: fastHasher, outbox: { pollIntervalMs: false } });
    const dir = mkdtempSync(join(tmpdir(), "authmachines-outbox-"));
    const database = probe.auth.config.database === "sqlite::memory:" ? `sqlite:${join(dir, "auth.db")}` : probe.auth.config.database;
    await probe.close();
    const delivered: Array<string> = [];
    const blocked = { send: async () => Promise.reject(new Error("not yet")) };
    // Rows written while the transport is down, by an instance whose own delivery fails.
    const writer = await harness({
      database,
      account,
      passwordHasher: fastHasher,
      mailer: blocked,
      outbox: { pollIntervalMs: false, maxAttempts: 100 },
    });
    for (let i = 0; i < 20; i++) {
      await writer.app().request("POST", "auth/signup", { email: `user${i}@example.com`, password: goodPassword });
    }
    await writer.query("UPDATE auth_outbox SET next_attempt_at = 0");
    const counting = { send: async (mail: Mail) => void delivered.push(mail.to) };
    const a = await harness({ database, account, passwordHasher: fastHasher, mailer: counting, outbox: { pollIntervalMs: false } });
    const b = await harness({ database, account, passwordHasher: fastHasher, mailer: counting, outbox: { pollIntervalMs: false } });
    const [x, y] = await Promise.all([a.auth.outbox.drain(), b.auth.outbox.drain()]);
    expect(x + y).toBe(20);
    expect(delivered.length).toBe(20);
    expect(new Set(delivered).size).toBe(20);
    for (const h of [a, b, writer]) {
      await h.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
