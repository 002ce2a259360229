/**
 * A real `node:http` server in front of `auth.handler` for the database-outage suites: requests
 * over HTTP, a logged-in browser and app client, the requests that read the session first, and
 * the checks that every one answers a JSON `{status}` 5xx that was reported with its cause and
 * stack, then that the server serves again. `cleanUp` (each suite's `afterEach`) closes what
 * a test opened, in reverse order.
 */
import { createServer, request as httpRequest } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { toNodeListener } from "../../src/http/node.ts";
import { fastHasher } from "../http/support.ts";
import { goodPassword, harness } from "./harness.ts";
import type { Harness } from "./harness.ts";

export const cleanups: Array<() => Promise<void> | void> = [];
/** The unhandled rejections seen while a server runs (none, or the test fails). */
export const rejections: Array<unknown> = [];
export const onRejection = (reason: unknown) => void rejections.push(reason);

export async function cleanUp(): Promise<void> {
  process.off("unhandledRejection", onRejection);
  rejections.length = 0;
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
}

export interface Answer {
  readonly status: number;
  readonly body: any;
  readonly cookies: Array<string>;
}

/** One request over real HTTP; a request that never answers fails after `timeoutMs`. */
export function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
  timeoutMs = 5000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method,
        path: `/_allauth/${path}`,
        headers: { host: "localhost", ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
        timeout: timeoutMs,
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

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

export interface Setup {
  readonly h: Harness;
  readonly reports: Array<{ message: string; error: unknown }>;
  readonly port: number;
}

export async function serve(database: string, config: Partial<AuthConfig> = {}): Promise<Setup> {
  const reports: Array<{ message: string; error: unknown }> = [];
  const h = await harness(
    {
      database,
      passwordHasher: fastHasher,
      account: { loginMethods: ["email"], emailVerification: "none" },
      outbox: { pollIntervalMs: false },
      ...config,
    },
    { report: (message, error) => void reports.push({ message, error }) },
  );
  cleanups.push(() => h.close());
  const port = await listen(createServer(toNodeListener(h.auth.handler)));
  process.on("unhandledRejection", onRejection);
  return { h, reports, port };
}

export interface LoggedIn {
  readonly cookie: string;
  readonly csrf: string;
  readonly token: string;
}

/** A browser and an app client logged in through the server: their cookie and token. */
export async function logIn(port: number): Promise<LoggedIn> {
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
export function probes(port: number, who: LoggedIn): Array<() => Promise<Answer>> {
  return [
    // The CSRF refusal reads the session before any endpoint runs.
    () => call(port, "POST", "browser/v1/auth/reauthenticate", { cookie: who.cookie }, { password: goodPassword }),
    () => call(port, "GET", "browser/v1/auth/session", { cookie: who.cookie }),
    () => call(port, "GET", "app/v1/auth/session", { "x-session-token": who.token }),
    () => call(port, "GET", "app/v1/account/email", { "x-session-token": who.token }),
  ];
}

/** Every report so far is a failed request with the error's cause and stack. */
export function expectReported(setup: Setup): void {
  expect(setup.reports.length).toBeGreaterThan(0);
  for (const { message, error } of setup.reports) {
    expect(message).toBe("request failed");
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).stack).toBeTruthy();
    expect((error as Error).cause).toBeDefined();
  }
}

export async function expectOutage(setup: Setup, who: LoggedIn, status: ReadonlyArray<number>): Promise<void> {
  for (const probe of probes(setup.port, who)) {
    const answer = await probe();
    expect(status).toContain(answer.status);
    expect(answer.body).toEqual({ status: answer.status });
  }
  expectReported(setup);
}

export async function expectBack(setup: Setup, who: LoggedIn): Promise<void> {
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
