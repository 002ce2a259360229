/**
 * A database that fails mid-run (SECURITY.md SE-11: fail closed, no 500 left unhandled; LG-04:
 * the client learns nothing of the failure, no SQL, no stack, only the status): through
 * the Node adapter, every request answers a JSON `{status}` 5xx (503 when the database cannot be
 * reached), the failure is reported with its cause and stack, the process sees no unhandled
 * rejection, and once the database is back requests succeed again. SQLite: a file database whose
 * session rows fail to read, then read again. PostgreSQL: the connection runs through a TCP proxy
 * that is cut and restored.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import type { Server } from "node:http";
import { connect, createServer as createTcpServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { toNodeListener } from "../../src/http/node.ts";
import { onPostgres, testDatabase } from "../support/database.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

const cleanups: Array<() => Promise<void> | void> = [];
const rejections: Array<unknown> = [];
const onRejection = (reason: unknown) => void rejections.push(reason);

afterEach(async () => {
  process.off("unhandledRejection", onRejection);
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

interface Answer {
  readonly status: number;
  readonly body: any;
  readonly cookies: Array<string>;
}

/** One request over real HTTP; a request that never answers fails after 5 s. */
function call(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method,
        path: `/_allauth/${path}`,
        headers: { host: "localhost", ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
        timeout: 5000,
      },
      (res) => {
        const chunks: Array<Buffer> = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode!, body: text === "" ? null : JSON.parse(text), cookies: res.headers["set-cookie"] ?? [] });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** A TCP proxy to `target` that can be cut (every connection dropped, new ones refused) and restored. */
async function tcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server = createTcpServer();
  let port = 0;
  const start = async () => {
    server = createTcpServer((client) => {
      const upstream = connect(target);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  };
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) {
      socket.destroy();
    }
    sockets.clear();
    await closed;
  };
  await start();
  cleanups.push(cut);
  return { port: () => port, cut, restore: start };
}

interface Setup {
  readonly h: Harness;
  readonly reports: Array<{ message: string; error: unknown }>;
  readonly port: number;
}

async function serve(database: string): Promise<Setup> {
  const reports: Array<{ message: string; error: unknown }> = [];
  const h = await harness(
    { database, passwordHasher: fastHasher, account: { loginMethods: ["email"], emailVerification: "none" }, outbox: { pollIntervalMs: false } },
    { report: (message, error) => void reports.push({ message, error }) },
  );
  cleanups.push(() => h.close());
  const port = await listen(createServer(toNodeListener(h.auth.handler)));
  process.on("unhandledRejection", onRejection);
  return { h, reports, port };
}

/** A browser and an app client logged in through the server: their cookie and token. */
async function logIn(port: number) {
  const config = await call(port, "GET", "browser/v1/config");
  const csrf = /csrftoken=([^;]+)/.exec(config.cookies.join("\n"))![1]!;
  const signup = await call(
    port,
    "POST",
    "browser/v1/auth/signup",
    { cookie: `csrftoken=${csrf}`, "x-csrftoken": csrf },
    { email: "alice@example.com", password: goodPassword },
  );
  expect(signup.status).toBe(200);
  const session = /sessionid=([^;]+)/.exec(signup.cookies.join("\n"))![1]!;
  // The login gave the browser a token bound to its new session.
  const loggedIn = /csrftoken=([^;]+)/.exec(signup.cookies.join("\n"))![1]!;
  const app = await call(port, "POST", "app/v1/auth/login", {}, { email: "alice@example.com", password: goodPassword });
  expect(app.status).toBe(200);
  return { cookie: `sessionid=${session}; csrftoken=${loggedIn}`, csrf: loggedIn, token: app.body.meta.session_token as string };
}

/** The requests that read the session first, each on a path of its own (one before the CSRF check). */
function probes(port: number, who: { cookie: string; csrf: string; token: string }) {
  return [
    // The CSRF refusal reads the session before any endpoint runs.
    () => call(port, "POST", "browser/v1/auth/reauthenticate", { cookie: who.cookie }, { password: goodPassword }),
    () => call(port, "GET", "browser/v1/auth/session", { cookie: who.cookie }),
    () => call(port, "GET", "app/v1/auth/session", { "x-session-token": who.token }),
    () => call(port, "GET", "app/v1/account/email", { "x-session-token": who.token }),
  ];
}

async function expectOutage(setup: Setup, who: { cookie: string; csrf: string; token: string }, status: ReadonlyArray<number>) {
  for (const probe of probes(setup.port, who)) {
    const answer = await probe();
    expect(status).toContain(answer.status);
    expect(answer.body).toEqual({ status: answer.status });
  }
  expect(setup.reports.length).toBeGreaterThan(0);
  for (const { message, error } of setup.reports) {
    expect(message).toBe("request failed");
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).stack).toBeTruthy();
    expect((error as Error).cause).toBeDefined();
  }
}

async function expectBack(setup: Setup, who: { cookie: string; csrf: string; token: string }) {
  expect((await call(setup.port, "GET", "browser/v1/auth/session", { cookie: who.cookie })).status).toBe(200);
  expect((await call(setup.port, "GET", "app/v1/auth/session", { "x-session-token": who.token })).status).toBe(200);
  const reauth = await call(
    setup.port,
    "POST",
    "browser/v1/auth/reauthenticate",
    { cookie: who.cookie, "x-csrftoken": who.csrf },
    { password: goodPassword },
  );
  expect(reauth.status).toBe(200);
  expect(rejections).toEqual([]);
}

describe("SE-11, LG-04: a database failing mid-run answers 5xx JSON with nothing but the status, and recovers", () => {
  if (!onPostgres) {
    it("SQLite file: session rows unreadable answers 500 everywhere, no unhandled rejection, and serves again when it is back", async () => {
      const dir = mkdtempSync(join(tmpdir(), "authmachines-outage-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const setup = await serve(`sqlite:${join(dir, "auth.db")}`);
      const who = await logIn(setup.port);
      // Every read of a session row now fails as it runs (not when it is prepared: a failed
      // prepare would stay cached by the driver), as a damaged file would.
      await setup.h.query("ALTER TABLE auth_session RENAME TO auth_session_away");
      await setup.h.query(
        "CREATE VIEW auth_session AS SELECT id, public_id, user_id, json('damaged') AS data, ip, user_agent, " +
          "created_at, last_seen_at, expires_at FROM auth_session_away",
      );
      await expectOutage(setup, who, [500]);
      await setup.h.query("DROP VIEW auth_session");
      await setup.h.query("ALTER TABLE auth_session_away RENAME TO auth_session");
      await expectBack(setup, who);
    });
  } else {
    it("PostgreSQL behind a proxy: cut, every request answers 503, no unhandled rejection; restored, it serves again", async () => {
      const direct = new URL((await testDatabase()).url);
      const proxy = await tcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
      const url = new URL(direct);
      url.hostname = "127.0.0.1";
      url.port = String(proxy.port());
      const setup = await serve(url.toString());
      await setup.h.query(
        "TRUNCATE auth_outbox, auth_flow, auth_session, auth_verification, auth_email_address, auth_rate_limit, " +
          "auth_social_state, auth_social_token, auth_social_account, auth_user",
      );
      const who = await logIn(setup.port);
      await proxy.cut();
      await expectOutage(setup, who, [503]);
      await proxy.restore();
      await expectBack(setup, who);
    });
  }
});

describe("SE-11, LG-04: the Node adapter never rejects, and tells the client only the status", () => {
  it("a handler that throws answers 500 JSON, one whose cause is a refused connection 503, both reported", async () => {
    const reports: Array<unknown> = [];
    process.on("unhandledRejection", onRejection);
    let next: Error = new Error("a bug");
    const listener = toNodeListener(
      async () => {
        throw next;
      },
      (_message, error) => void reports.push(error),
    );
    const port = await listen(createServer(listener));
    expect(await call(port, "GET", "browser/v1/config")).toMatchObject({ status: 500, body: { status: 500 } });
    next = new Error("query failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }) });
    expect(await call(port, "GET", "browser/v1/config")).toMatchObject({ status: 503, body: { status: 503 } });
    expect(reports).toHaveLength(2);
    expect((reports[1] as Error).cause).toMatchObject({ code: "ECONNREFUSED" });
    expect(rejections).toEqual([]);
  });
});
