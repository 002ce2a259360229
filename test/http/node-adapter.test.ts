/**
 * Mounting (issue #11 item 1) through a real `node:http` server: `basePath` moves the API, the
 * listener hands paths that are not the handler's to `next()`, a body a framework's parser
 * already read is taken from `req.body` (or refused with a report saying what to change, when
 * the parser left nothing), and a client that disconnects before a step commits leaves nothing.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { consumedBodyMessage, toNodeListener } from "../../src/http/node.ts";
import type { AuthConfig } from "../../src/config.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher } from "./support.ts";

let h: Harness;
let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
  server = undefined;
  await h?.close();
});

const account = { loginMethods: ["email"] as const, emailVerification: "none" as const };

type Middleware = (req: IncomingMessage & { body?: unknown }, res: ServerResponse, next: () => void) => void | Promise<void>;

/** A server running `before` (a stand-in for a framework's body parser), then the listener, then the app's own 404. */
async function serve(config: Partial<AuthConfig>, before?: Middleware, reports: Array<string> = []): Promise<string> {
  h = await harness({ account, passwordHasher: fastHasher, ...config }, { report: (message) => void reports.push(message) });
  const listener = toNodeListener(h.auth.handler);
  server = createServer((req, res) => {
    const app = () =>
      void listener(req, res, () => {
        res.statusCode = 418;
        res.end("the app's own route");
      });
    if (before === undefined) {
      app();
    } else {
      void before(req, res, app);
    }
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** Reads the whole body into a string. */
async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Array<Buffer> = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

describe("mounting through node:http", () => {
  it("basePath moves the API; other paths go to next()", async () => {
    const origin = await serve({ basePath: "/api/auth" });
    expect((await fetch(`${origin}/api/auth/app/v1/config`)).status).toBe(200);
    const signup = await post(`${origin}/api/auth/app/v1/auth/signup`, { email: "ann@example.com", password: goodPassword });
    expect(signup.status).toBe(200);
    expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in"]);
    const elsewhere = await fetch(`${origin}/_allauth/app/v1/config`);
    expect([elsewhere.status, await elsewhere.text()]).toEqual([418, "the app's own route"]);
    expect((await fetch(`${origin}/dashboard`)).status).toBe(418);
    // Under the base path, unknown API paths are the API's 404, not the app's.
    expect((await fetch(`${origin}/api/auth/app/v1/nope`)).status).toBe(404);
    expect(h.auth.handler.owns("/api/auth/app/v1/config")).toBe(true);
    expect(h.auth.handler.owns("/api/authx")).toBe(false);
  });

  it("takes a body that a JSON parser already read from req.body", async () => {
    const origin = await serve({}, async (req, _res, next) => {
      req.body = JSON.parse(await readAll(req));
      next();
    });
    const signup = await post(`${origin}/_allauth/app/v1/auth/signup`, { email: "bob@example.com", password: goodPassword });
    expect(signup.status).toBe(200);
    expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in"]);
    const bad = await post(`${origin}/_allauth/app/v1/auth/signup`, { email: ["x@example.com"], password: goodPassword });
    expect(bad.status).toBe(400);
    expect(await h.count("auth_user")).toBe(1);
  });

  it("a body read by a parser that kept nothing: 500, a report saying what to change, nothing written", async () => {
    const reports: Array<string> = [];
    const origin = await serve(
      {},
      async (req, _res, next) => {
        await readAll(req);
        next();
      },
      reports,
    );
    reports.length = 0;
    const signup = await post(`${origin}/_allauth/app/v1/auth/signup`, { email: "cy@example.com", password: goodPassword });
    expect(signup.status).toBe(500);
    expect(await signup.json()).toEqual({ status: 500 });
    expect(reports).toEqual([consumedBodyMessage]);
    expect(consumedBodyMessage).toMatch(/before that body parser/);
    expect(await h.count("auth_user")).toBe(0);
    expect(h.takeSignals()).toEqual([]);
  });

  it("a client that disconnects before the step commits leaves no row, signal or mail", async () => {
    let hashing = 0;
    const slowHasher = {
      hash: async (password: string) => {
        hashing++;
        await new Promise((resolve) => setTimeout(resolve, 300));
        return fastHasher.hash(password);
      },
      verify: fastHasher.verify,
    };
    const origin = await serve({ passwordHasher: slowHasher });
    const { port } = new URL(origin);
    const body = JSON.stringify({ email: "dee@example.com", password: goodPassword });
    const socket = connect(Number(port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(
      `POST /_allauth/app/v1/auth/signup HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    while (hashing === 0) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 600));
    await h.auth.outbox.settled();
    expect(await h.count("auth_user")).toBe(0);
    expect(await h.count("auth_outbox")).toBe(0);
    expect(h.takeSignals()).toEqual([]);
    expect(h.takeMails()).toEqual([]);
    // The same request kept open is served.
    const signup = await post(`${origin}/_allauth/app/v1/auth/signup`, { email: "dee@example.com", password: goodPassword });
    expect(signup.status).toBe(200);
    expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in"]);
  });
});
