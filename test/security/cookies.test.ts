/**
 * Cookie attributes through the Node adapter (SECURITY.md SE-09): a request that came over TLS
 * (`socket.encrypted`), or through a trusted proxy that says `X-Forwarded-Proto: https`, is an
 * https request, so its cookies are `Secure`; the header counts for nothing without a trusted
 * proxy. `hostPrefixedCookies` names the session cookie `__Host-sessionid`: Secure, `Path=/`, no
 * `Domain`.
 */
import { createServer, IncomingMessage, request as httpRequest, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { resolveConfig } from "../../src/config.ts";
import { toNodeListener } from "../../src/http/node.ts";
import { goodPassword, harness, testSecret } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

async function open(config: Partial<AuthConfig> = {}): Promise<Harness> {
  h = await harness({ passwordHasher: fastHasher, account: { loginMethods: ["email"], emailVerification: "none" }, ...config });
  return h;
}

/** One request through the adapter on a socket that is (or is not) a TLS socket. */
async function throughAdapter(
  encrypted: boolean,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; cookies: Array<string>; body: any }> {
  const socket = new Socket();
  Object.assign(socket, { encrypted });
  const req = new IncomingMessage(socket);
  req.method = method;
  req.url = `/_allauth/browser/v1/${path}`;
  req.headers = { host: "localhost", "user-agent": "vitest", ...headers };
  if (body !== undefined) {
    req.headers["content-type"] = "application/json";
    req.push(JSON.stringify(body));
  }
  req.push(null);
  const res = new ServerResponse(req);
  const chunks: Array<Buffer> = [];
  res.end = ((chunk: Buffer) => {
    chunks.push(chunk);
    return res;
  }) as typeof res.end;
  await toNodeListener(h.auth.handler)(req, res);
  socket.destroy();
  const cookies = res.getHeader("set-cookie");
  return {
    status: res.statusCode,
    cookies: Array.isArray(cookies) ? cookies : [],
    body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
  };
}

/** Signs up through the adapter: the CSRF cookie first, then the signup that sets the session. */
async function signupThroughAdapter(encrypted: boolean, extra: Record<string, string> = {}) {
  const config = await throughAdapter(encrypted, "GET", "config", extra);
  const csrf = /csrftoken=([^;]+)/.exec(config.cookies.join("\n"))![1]!;
  const signup = await throughAdapter(
    encrypted,
    "POST",
    "auth/signup",
    { ...extra, cookie: `csrftoken=${csrf}`, "x-csrftoken": csrf },
    { email: "alice@example.com", password: goodPassword },
  );
  expect(signup.status).toBe(200);
  return { config, signup };
}

describe("SE-09: Secure cookies through the Node adapter", () => {
  it("a TLS socket makes every cookie Secure", async () => {
    await open();
    const { config, signup } = await signupThroughAdapter(true);
    expect(config.cookies.length).toBeGreaterThan(0);
    expect(signup.cookies.some((c) => c.startsWith("sessionid="))).toBe(true);
    for (const cookie of [...config.cookies, ...signup.cookies]) {
      expect(cookie).toMatch(/; Secure(;|$)/);
    }
  });

  it("a plain socket leaves them without Secure", async () => {
    await open();
    const { config, signup } = await signupThroughAdapter(false);
    for (const cookie of [...config.cookies, ...signup.cookies]) {
      expect(cookie).not.toMatch(/Secure/);
    }
  });

  it("X-Forwarded-Proto: https counts only behind a trusted proxy", async () => {
    await open();
    const untrusted = await throughAdapter(false, "GET", "config", { "x-forwarded-proto": "https" });
    expect(untrusted.cookies.join("\n")).not.toMatch(/Secure/);
    await h.close();
    await open({ trustedProxyCount: 1 });
    const trusted = await throughAdapter(false, "GET", "config", { "x-forwarded-proto": "https" });
    expect(trusted.cookies.length).toBeGreaterThan(0);
    expect(trusted.cookies.every((c) => /; Secure(;|$)/.test(c))).toBe(true);
  });

  it("over a real node:http server, a trusted X-Forwarded-Proto makes the session cookie Secure", async () => {
    await open({ trustedProxyCount: 1 });
    const server = createServer(toNodeListener(h.auth.handler));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const cookies = await new Promise<Array<string>>((resolve, reject) => {
        const req = httpRequest(
          { host: "127.0.0.1", port, path: "/_allauth/browser/v1/config", headers: { host: "localhost", "x-forwarded-proto": "https" } },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.headers["set-cookie"] ?? []));
          },
        );
        req.on("error", reject);
        req.end();
      });
      expect(cookies.length).toBeGreaterThan(0);
      expect(cookies.every((c) => /; Secure(;|$)/.test(c))).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("SE-09: the __Host- prefix for the session cookie", () => {
  it("hostPrefixedCookies names it __Host-sessionid: Secure, Path=/, no Domain, and it is read back", async () => {
    await open({ hostPrefixedCookies: true });
    const client = h.browser();
    const res = await client.request("POST", "auth/signup", { email: "alice@example.com", password: goodPassword });
    expect(res.status).toBe(200);
    const session = res.headers.getSetCookie().find((c) => c.startsWith("__Host-sessionid="));
    expect(session).toBeDefined();
    expect(session).toMatch(/; Secure(;|$)/);
    expect(session).toMatch(/(^|; )Path=\/(;|$)/);
    expect(session).not.toMatch(/Domain=/i);
    expect(session).toMatch(/HttpOnly/);
    expect(res.headers.getSetCookie().some((c) => c.startsWith("sessionid="))).toBe(false);
    expect(client.cookies.has("__Host-sessionid")).toBe(true);
    expect((await client.request("GET", "auth/session")).status).toBe(200);
    // A plain `sessionid` cookie is not the session when the prefix is on.
    const other = h.browser();
    other.cookies.set("sessionid", client.cookies.get("__Host-sessionid")!);
    expect((await other.request("GET", "auth/session")).status).toBe(401);
  });

  it("refuses hostPrefixedCookies with secureCookies false", () => {
    expect(() =>
      resolveConfig({ secret: testSecret, database: "sqlite::memory:", hostPrefixedCookies: true, secureCookies: false }),
    ).toThrow(/hostPrefixedCookies: .*Secure/);
    expect(() => resolveConfig({ secret: testSecret, database: "sqlite::memory:", hostPrefixedCookies: "yes" as never })).toThrow(
      /hostPrefixedCookies/,
    );
  });
});
