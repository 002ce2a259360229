/**
 * Outbox hardening (issue #10, findings 9 and 11): an undelivered mail is sealed at rest and its
 * error keeps no mail content (SECURITY.md TK-02, LG-01); a crashed instance's rows are retried
 * within seconds, the lease is renewed while a slow mail is sent (CC-10), `close()` has a
 * deadline against an SMTP server that never answers (DD-05), and `last_error` keeps the
 * transport's own error. Runs on SQLite and PostgreSQL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestClock, TestContext } from "effect";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAuth } from "../../src/auth.ts";
import type { Mail } from "../../src/services/mailer.ts";
import { goodPassword, harness, keyFromMail, testSecret } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

const account = { loginMethods: ["email"] as const, emailVerification: "mandatory" as const };

interface OutboxRowView {
  id: string;
  status: string;
  payload: string;
  last_error: string | null;
}

const rows = (h: Harness) => h.query<OutboxRowView>("SELECT id, status, payload, last_error FROM auth_outbox ORDER BY created_at, id");

/** A database two instances can share: a SQLite file, or the test's PostgreSQL schema. */
async function sharedDatabase(): Promise<{ database: string; done: () => void }> {
  const probe = await harness({ account, passwordHasher: fastHasher, outbox: { pollIntervalMs: false } });
  const dir = mkdtempSync(join(tmpdir(), "authmachines-outbox-"));
  const database = probe.auth.config.database === "sqlite::memory:" ? `sqlite:${join(dir, "auth.db")}` : probe.auth.config.database;
  await probe.close();
  return { database, done: () => rmSync(dir, { recursive: true, force: true }) };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("outbox: mails at rest", () => {
  it("keeps an undelivered mail sealed, and its key out of last_error; the retried mail still verifies", async () => {
    const sent: Array<Mail> = [];
    let failures = 1;
    const mailer = {
      // A transport whose error repeats the message it refused.
      send: async (mail: Mail) => {
        if (failures-- > 0) {
          throw new Error(`550 rejected: ${mail.text}`);
        }
        sent.push(mail);
      },
    };
    const h = await harness({ account, passwordHasher: fastHasher, mailer, outbox: { pollIntervalMs: false } }, { layer: TestContext.TestContext });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    const [pending] = await rows(h);
    expect(pending!.status).toBe("pending");
    expect(pending!.payload).not.toContain("ann@example.com");
    expect(pending!.payload).not.toContain("verify-email");
    expect(pending!.payload).toMatch(/^v1\./);
    expect(pending!.last_error).toMatch(/^550 rejected: /);
    expect(pending!.last_error).toContain("[mail content]");
    expect(pending!.last_error).not.toContain("verify-email");

    await h.auth.runtime.runPromise(TestClock.adjust("2 seconds"));
    expect(await h.auth.outbox.drain()).toBe(1);
    expect(sent).toHaveLength(1);
    const key = keyFromMail(sent[0]!);
    expect(pending!.payload).not.toContain(key);
    expect(pending!.last_error).not.toContain(key);
    const [delivered] = await rows(h);
    expect(delivered!.status).toBe("delivered");
    const verified = await h.app().request("POST", "auth/email/verify", { key });
    expect([200, 401]).toContain(verified.status);
    expect(h.takeSignals()).toContain("email_confirmed");
    await h.close();
  });

  it('warns on start-up that the "console" mailer prints keys and codes, and refuses it under NODE_ENV=production (LG-08)', async () => {
    const reports: Array<[string, unknown]> = [];
    const h = await harness({ mailer: "console", outbox: { pollIntervalMs: false } }, { report: (m, e) => void reports.push([m, e]) });
    expect(reports).toEqual([['warning: the "console" mailer prints every mail, keys and codes included, to stdout (development only)', undefined]]);
    await h.close();
    const quiet: Array<unknown> = [];
    const custom = await harness({ outbox: { pollIntervalMs: false } }, { report: (m) => void quiet.push(m) });
    expect(quiet).toEqual([]);
    await custom.close();

    vi.stubEnv("NODE_ENV", "production");
    const refused = createAuth({ secret: testSecret, database: "sqlite::memory:" });
    await expect(refused).rejects.toMatchObject({
      name: "ConfigError",
      path: "mailer",
      message: 'mailer: the "console" mailer prints keys and codes, and is refused when NODE_ENV is "production"',
    });
  });
});

describe("outbox: crashes, slow and broken transports", () => {
  it("retries a row claimed by an instance that died within 15 s (lease + poll interval)", async () => {
    const sent: Array<Mail> = [];
    const h = await harness(
      { account, passwordHasher: fastHasher, mailer: { send: async (mail) => void sent.push(mail) }, outbox: { pollIntervalMs: false } },
      { layer: TestContext.TestContext },
    );
    const { leaseMs, pollIntervalMs } = h.auth.config.outbox;
    expect(leaseMs + Number(pollIntervalMs)).toBeLessThan(15_000);
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    sent.length = 0;
    // A row an instance claimed just now and then died with: pending, leased from now on.
    await h.query("UPDATE auth_outbox SET status = 'pending', attempts = 1, next_attempt_at = 0, locked_until = ?", leaseMs);
    expect(await h.auth.outbox.drain()).toBe(0);
    await h.auth.runtime.runPromise(TestClock.adjust(`${leaseMs + 1} millis`));
    expect(await h.auth.outbox.drain()).toBe(1);
    expect(sent).toHaveLength(1);
    await h.close();
  });

  it("renews the lease while a slow mail is sent: another instance does not send it again", async () => {
    const { database, done } = await sharedDatabase();
    const sent: Array<string> = [];
    let release = () => undefined as void;
    const slow = {
      send: async (mail: Mail) => {
        await new Promise<void>((resolve) => {
          release = resolve;
          setTimeout(resolve, 2_000);
        });
        sent.push(`slow ${mail.to}`);
      },
    };
    const blocked = { send: async () => Promise.reject(new Error("not yet")) };
    const writer = await harness({ database, account, passwordHasher: fastHasher, mailer: blocked, outbox: { pollIntervalMs: false } });
    await writer.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    await writer.query("UPDATE auth_outbox SET next_attempt_at = 0");
    const quick = { send: async (mail: Mail) => void sent.push(`quick ${mail.to}`) };
    const config = { database, account, passwordHasher: fastHasher, outbox: { pollIntervalMs: false as const, leaseMs: 200 } };
    const a = await harness({ ...config, mailer: slow });
    const b = await harness({ ...config, mailer: quick });
    const first = a.auth.outbox.drain();
    await new Promise((resolve) => setTimeout(resolve, 700)); // 3.5 leases into the slow send
    expect(await b.auth.outbox.drain()).toBe(0);
    release();
    expect(await first).toBe(1);
    expect(sent).toEqual(["slow ann@example.com"]);
    for (const h of [a, b, writer]) {
      await h.close();
    }
    done();
  });

  it("close() returns within its deadline against an SMTP server that accepts and never answers", async () => {
    const sockets: Array<Socket> = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as AddressInfo).port;
    const h = await harness({
      account,
      passwordHasher: fastHasher,
      mailer: `smtp://127.0.0.1:${port}`,
      outbox: { pollIntervalMs: false, closeTimeoutMs: 500 },
    });
    const signup = h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    await vi.waitFor(() => expect(sockets.length).toBe(1), { timeout: 5_000 });
    const started = Date.now();
    await h.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await signup).status).toBe(401);
    for (const socket of sockets) {
      socket.destroy();
    }
    await new Promise((resolve) => silent.close(resolve));
  });

  it("keeps the transport's own error (ECONNREFUSED, with its code) in last_error and the report", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const reports: Array<[string, unknown]> = [];
    const h = await harness(
      { account, passwordHasher: fastHasher, mailer: `smtp://127.0.0.1:${port}`, outbox: { pollIntervalMs: false } },
      { report: (m, e) => void reports.push([m, e]) },
    );
    const response = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(response.status).toBe(401);
    const [row] = await rows(h);
    expect(row!.status).toBe("pending");
    expect(row!.last_error).toContain("ECONNREFUSED");
    expect(row!.last_error).not.toContain("unknown error");
    const failure = reports.find(([message]) => message.startsWith("outbox delivery failed"));
    expect((failure?.[1] as Error).message).toContain("ECONNREFUSED");
    await h.close();
  });
});
