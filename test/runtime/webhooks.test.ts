/**
 * Signed webhooks (issue #11 item 9) to a real HTTP receiver on 127.0.0.1: each listed signal's
 * durable copy arrives signed as Standard Webhooks (verified here with the same package), with
 * `webhook-id` the same on a retry after a 500; the row is dead-lettered after the outbox's cap;
 * a rolled-back step sends nothing; endpoints must be https unless on a loopback host.
 */
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { TestClock, TestContext } from "effect";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { createAuth } from "../../src/auth.ts";
import { ConfigError } from "../../src/config-schema.ts";
import type { AuthConfig } from "../../src/config.ts";
import { createWebhookReceiver } from "../../examples/webhook-receiver.ts";
import type { WebhookMessage } from "../../examples/webhook-receiver.ts";
import { fastHasher } from "../http/support.ts";
import { goodPassword, harness, testSecret } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

const secret = `whsec_${randomBytes(32).toString("base64")}`;
const account = { loginMethods: ["email"] as const, emailVerification: "none" as const };

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

let h: Harness;
let server: Server | undefined;
afterEach(async () => {
  await h?.close();
  await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
  server = undefined;
});

/** A receiver answering each POST with the next status of `statuses` (then 200). */
async function receiver(statuses: Array<number> = []): Promise<{ url: string; received: Array<Received> }> {
  const received: Array<Received> = [];
  server = createServer((req, res) => {
    const chunks: Array<Buffer> = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received };
}

async function open(url: string, extra: Partial<AuthConfig> = {}): Promise<Harness> {
  h = await harness(
    {
      account,
      passwordHasher: fastHasher,
      webhooks: [{ url, secret, signals: ["user_signed_up", "user_logged_out"] }],
      outbox: { pollIntervalMs: false, maxAttempts: 3 },
      ...extra,
    },
    { layer: TestContext.TestContext },
  );
  // Signatures carry the runtime's time, and receivers refuse one more than 5 minutes off.
  await h.auth.runtime.runPromise(TestClock.setTime(Date.now()));
  return h;
}

function verified(message: Received): any {
  return new Webhook(secret).verify(message.body, {
    "webhook-id": String(message.headers["webhook-id"]),
    "webhook-timestamp": String(message.headers["webhook-timestamp"]),
    "webhook-signature": String(message.headers["webhook-signature"]),
  });
}

describe("signed webhooks", () => {
  it("delivers each listed signal once, signed; the signature verifies with the standardwebhooks package", async () => {
    const { url, received } = await receiver();
    await open(url);
    const app = h.app();
    expect((await app.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(received).toHaveLength(1);
    const message = verified(received[0]!);
    expect(message.type).toBe("user_signed_up");
    expect(message.data.user.email).toBe("ann@example.com");
    expect(message.data.idempotencyKey).toBe(received[0]!.headers["webhook-id"]);
    expect(received[0]!.body).not.toContain(goodPassword);
    // A tampered body does not verify.
    expect(() => verified({ ...received[0]!, body: received[0]!.body.replace("ann@", "eve@") })).toThrow();

    await app.request("DELETE", "auth/session");
    expect(h.takeSignals()).toEqual(["user_logged_out"]);
    expect(received.map((m) => verified(m).type)).toEqual(["user_signed_up", "user_logged_out"]);
    expect((await h.auth.outbox.list("delivered")).map((row) => row.kind)).toEqual(["webhook", "webhook"]);
    // The endpoint's secret is neither stored with the rows nor shown with the config.
    expect(JSON.stringify(await h.query("SELECT * FROM auth_outbox"))).not.toContain(secret.slice(6));
    expect(JSON.stringify(h.auth.config)).not.toContain(secret.slice(6));
  });

  it("retries after a 500 with the same webhook-id, and dead-letters after the cap", async () => {
    const { url, received } = await receiver([500, 200, 500, 500, 500]);
    await open(url);
    await h.app().request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword });
    expect(received).toHaveLength(1);
    expect(await h.auth.outbox.drain()).toBe(0);
    await h.auth.runtime.runPromise(TestClock.adjust("2 seconds"));
    expect(await h.auth.outbox.drain()).toBe(1);
    expect(received).toHaveLength(2);
    expect(received[1]!.headers["webhook-id"]).toBe(received[0]!.headers["webhook-id"]);
    expect(verified(received[1]!).data.user.email).toBe("bob@example.com");

    // The next signal's endpoint keeps failing: three attempts, then a dead letter.
    await h.app().request("POST", "auth/signup", { email: "cy@example.com", password: goodPassword });
    for (const wait of ["2 seconds", "4 seconds"] as const) {
      await h.auth.runtime.runPromise(TestClock.adjust(wait));
      await h.auth.outbox.drain();
    }
    expect(received).toHaveLength(5);
    const dead = await h.auth.outbox.list("dead");
    expect(dead.map((row) => [row.kind, row.topic, row.attempts, row.lastError])).toEqual([
      ["webhook", "user_signed_up", 3, "the webhook endpoint answered 500"],
    ]);
    h.takeSignals();
  });

  it("the example receiver accepts a real delivery and refuses a forged one", async () => {
    const handled: Array<WebhookMessage> = [];
    server = createWebhookReceiver(secret, (message) => void handled.push(message));
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`;
    await open(url);
    await h.app().request("POST", "auth/signup", { email: "fay@example.com", password: goodPassword });
    expect(handled.map((m) => [m.type, (m.data["user"] as { email: string }).email])).toEqual([["user_signed_up", "fay@example.com"]]);
    expect(await h.auth.outbox.list("pending")).toEqual([]);
    const forged = await fetch(url, {
      method: "POST",
      headers: { "webhook-id": "msg_x", "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": "v1,AAAA" },
      body: JSON.stringify({ type: "user_signed_up", data: {} }),
    });
    expect(forged.status).toBe(401);
    expect(handled).toHaveLength(1);
    h.takeSignals();
  });

  it("sends nothing for a step a receiver rolled back", async () => {
    const { url, received } = await receiver();
    await open(url);
    h.auth.signals.on("user_signed_up", () => {
      throw new Error("refused by the app");
    });
    const res = await h.app().request("POST", "auth/signup", { email: "dee@example.com", password: goodPassword });
    expect(res.status).toBe(500);
    await h.auth.outbox.drain();
    expect(received).toEqual([]);
    expect(await h.count("auth_outbox")).toBe(0);
  });

  it("keeps the transport's reason when the endpoint cannot be reached", async () => {
    const { url } = await receiver();
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    await open(url);
    await h.app().request("POST", "auth/signup", { email: "eve@example.com", password: goodPassword });
    const [pending] = await h.auth.outbox.list("pending");
    expect(pending!.kind).toBe("webhook");
    expect(pending!.lastError).toMatch(/ECONNREFUSED/);
  });

  it.each([
    ["http://example.com/hooks", "url"],
    ["https://user:pw@example.com/hooks", "url"],
    ["https://example.com/hooks", "secret"],
  ])("refuses the endpoint %s (%s)", async (url, field) => {
    const bad = field === "secret" ? "not-a-secret" : secret;
    const error = await createAuth({
      secret: testSecret,
      database: "sqlite::memory:",
      mailer: { send: async () => undefined },
      webhooks: [{ url, secret: bad, signals: ["user_signed_up"] }],
    }).then(
      (auth) => auth.close().then(() => null),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).path).toBe(`webhooks[0].${field}`);
    expect((error as ConfigError).message).not.toContain(bad === secret ? secret : "\u0000");
  });
});
