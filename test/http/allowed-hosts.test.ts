/**
 * `allowedHosts` (Django's `ALLOWED_HOSTS`) and the origin mailed links are built on: a request
 * naming another host is refused before anything runs; `X-Forwarded-Host` / `-Proto` count only
 * behind trusted proxies; the default config mails absolute links on the request's origin. So a
 * reset link is never built on a host an attacker names (SECURITY.md TK-15).
 */
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { toNodeListener } from "../../src/http/node.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher } from "./support.ts";

const tables = ["auth_user", "auth_email_address", "auth_session", "auth_verification", "auth_flow", "auth_rate_limit", "auth_outbox"];

let h: Harness;

afterEach(async () => {
  await h?.close();
});

async function open(config: Partial<AuthConfig> = {}): Promise<Harness> {
  h = await harness({ passwordHasher: fastHasher, ...config, account: { loginMethods: ["email"], ...config.account } });
  return h;
}

/** A request to the app client at `origin`, with extra headers. */
async function send(origin: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await h.auth.handler(
    new Request(`${origin}/_allauth/app/v1/${path}`, {
      method,
      headers: { "user-agent": "vitest", ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
    { ip: "10.7.7.7" },
  );
  // Mails go out after the response; wait for them so each test reads its own.
  await h.auth.outbox.settled();
  return { status: response.status, body: (await response.json()) as any, headers: response.headers };
}

async function counts(): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const table of tables) {
    result[table] = await h.count(table);
  }
  return result;
}

/** The one link in the one mail sent since the last call. */
function mailedLink(): string {
  const mails = h.takeMails();
  expect(mails).toHaveLength(1);
  const links = mails[0]!.text.match(/\S+:\/\/\S+/g);
  expect(links).toHaveLength(1);
  return links![0]!;
}

describe("a Host outside allowedHosts", () => {
  it("gets a 400 JSON answer on every route and writes, mails and emits nothing", async () => {
    await open();
    const before = await counts();
    for (const [method, path, body] of [
      ["POST", "auth/signup", { email: "eve@example.com", password: goodPassword }],
      ["POST", "auth/password/request", { email: "eve@example.com" }],
      ["GET", "config", undefined],
      ["GET", "no/such/route", undefined],
    ] as const) {
      const res = await send("http://evil.example", method, path, body);
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.body).toEqual({ status: 400, errors: [{ message: "The request's host is not allowed.", code: "disallowed_host" }] });
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    expect(await counts()).toEqual(before);
    expect(h.takeMails()).toEqual([]);
    expect(h.takeSignals()).toEqual([]);
  });

  it("the defaults allow localhost, 127.0.0.1 and [::1] under any port, and nothing else", async () => {
    await open();
    for (const origin of ["http://localhost", "http://localhost:3000", "http://127.0.0.1:8080", "http://[::1]:5173", "https://LOCALHOST"]) {
      expect((await send(origin, "GET", "config")).status, origin).toBe(200);
    }
    for (const origin of ["http://example.com", "http://localhost.evil.example", "http://127.0.0.2", "http://[::2]"]) {
      expect((await send(origin, "GET", "config")).status, origin).toBe(400);
    }
  });

  it('".example.com" allows the domain and its subdomains; "*" allows any host only when given', async () => {
    await open({ allowedHosts: [".example.com"] });
    for (const origin of ["https://example.com", "https://app.example.com:8443", "https://a.b.example.com"]) {
      expect((await send(origin, "GET", "config")).status, origin).toBe(200);
    }
    for (const origin of ["https://badexample.com", "https://example.com.evil.test", "http://localhost"]) {
      expect((await send(origin, "GET", "config")).status, origin).toBe(400);
    }
    await h.close();
    await open({ allowedHosts: ["*"] });
    expect((await send("https://anything.test:9", "GET", "config")).status).toBe(200);
  });
});

describe("mailed links", () => {
  it("with the default config, the verification and reset links are absolute on the request's origin", async () => {
    await open();
    const signup = await send("http://localhost:4173", "POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(signup.status).toBe(200);
    expect(mailedLink()).toMatch(/^http:\/\/localhost:4173\/account\/verify-email\/[A-Za-z0-9_%-]+$/);
    const reset = await send("http://127.0.0.1:8000", "POST", "auth/password/request", { email: "ann@example.com" });
    expect(reset.status).toBe(200);
    expect(mailedLink()).toMatch(/^http:\/\/127\.0\.0\.1:8000\/account\/password\/reset\/key\/[A-Za-z0-9_%-]+$/);
  });

  it("an absolute template is kept; defaultHttpProtocol https forces https on a relative one", async () => {
    await open({ frontendUrls: { accountConfirmEmail: "https://app.example.com/verify?key={key}" } });
    await send("http://localhost:3000", "POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(mailedLink()).toMatch(/^https:\/\/app\.example\.com\/verify\?key=[A-Za-z0-9_%-]+$/);
    await h.close();
    await open({ account: { loginMethods: ["email"], defaultHttpProtocol: "https" } });
    await send("http://localhost:3000", "POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(mailedLink()).toMatch(/^https:\/\/localhost:3000\/account\/verify-email\//);
  });
});

describe("reset links never follow a host the requester names (TK-15)", () => {
  const evil = { "x-forwarded-host": "evil.test", "x-forwarded-proto": "https" };

  it("Host: evil.test is refused before anything is written or mailed", async () => {
    await open();
    await send("http://localhost:3000", "POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    const before = await counts();
    const res = await send("http://evil.test", "POST", "auth/password/request", { email: "ann@example.com" });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ code: "disallowed_host" })]);
    expect(await counts()).toEqual(before);
    expect(h.takeMails()).toEqual([]);
  });

  it("X-Forwarded-Host: evil.test without a trusted proxy: the link is on the configured URL, or the request's own origin", async () => {
    await open({ frontendUrls: { accountResetPasswordFromKey: "https://app.example.com/reset/{key}" } });
    await send("http://localhost:3000", "POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    expect((await send("http://localhost:3000", "POST", "auth/password/request", { email: "ann@example.com" }, evil)).status).toBe(200);
    expect(mailedLink()).toMatch(/^https:\/\/app\.example\.com\/reset\/[A-Za-z0-9_%-]+$/);
    await h.close();
    await open();
    await send("http://localhost:3000", "POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    expect((await send("http://localhost:3000", "POST", "auth/password/request", { email: "ann@example.com" }, evil)).status).toBe(200);
    expect(mailedLink()).toMatch(/^http:\/\/localhost:3000\/account\/password\/reset\/key\/[A-Za-z0-9_%-]+$/);
  });
});

describe("X-Forwarded-Host and X-Forwarded-Proto", () => {
  const forwarded = { "x-forwarded-host": "app.example.com", "x-forwarded-proto": "https" };

  it("are ignored without a trusted proxy: the link is on the request's own origin", async () => {
    await open({ allowedHosts: ["localhost", "app.example.com"] });
    await send("http://localhost:3000", "POST", "auth/signup", { email: "ann@example.com", password: goodPassword }, forwarded);
    expect(mailedLink()).toMatch(/^http:\/\/localhost:3000\/account\/verify-email\//);
  });

  it("count behind a trusted proxy: the link is on the forwarded origin", async () => {
    await open({ allowedHosts: ["localhost", "app.example.com"], trustedProxyCount: 1 });
    await send("http://localhost:3000", "POST", "auth/signup", { email: "ann@example.com", password: goodPassword }, forwarded);
    expect(mailedLink()).toMatch(/^https:\/\/app\.example\.com\/account\/verify-email\//);
  });

  it("behind a trusted proxy a forwarded host outside allowedHosts is refused and writes nothing", async () => {
    await open({ trustedProxyCount: 1 });
    const before = await counts();
    const res = await send("http://localhost:3000", "POST", "auth/signup", { email: "ann@example.com", password: goodPassword }, {
      "x-forwarded-host": "evil.example",
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ code: "disallowed_host" })]);
    expect(await counts()).toEqual(before);
    expect(h.takeMails()).toEqual([]);
    expect(h.takeSignals()).toEqual([]);
  });

  it("with two trusted proxies the host the outer one forwarded counts, not one the client prepended", async () => {
    await open({ allowedHosts: ["localhost", "app.example.com"], trustedProxyCount: 2 });
    await send("http://localhost:3000", "POST", "auth/signup", { email: "ann@example.com", password: goodPassword }, {
      "x-forwarded-host": "evil.example, app.example.com, internal.lan",
      "x-forwarded-proto": "http, https, http",
    });
    expect(mailedLink()).toMatch(/^https:\/\/app\.example\.com\/account\/verify-email\//);
  });
});

describe("through the node:http adapter", () => {
  /** Sends a raw GET with this Host header; answers status and body. */
  function get(port: number, host: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ port, host: "127.0.0.1", path: "/_allauth/browser/v1/config", setHost: false, headers: { host } }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  it("refuses a Host outside allowedHosts and one no URL can hold, and keeps serving", async () => {
    await open();
    const server = createServer(toNodeListener(h.auth.handler));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      expect(await get(port, "evil.example")).toEqual({ status: 400, body: expect.stringContaining('"disallowed_host"') });
      expect(await get(port, "bad host:x")).toEqual({ status: 400, body: expect.stringContaining('"disallowed_host"') });
      expect((await get(port, `localhost:${port}`)).status).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
