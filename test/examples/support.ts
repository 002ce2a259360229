/**
 * A browser for the recipes' tests: real requests through `send` (fetch, or a framework's own
 * entry points), cookies kept between them, and the `csrftoken` cookie's latest value sent as
 * `X-CSRFToken` on unsafe requests, as allauth's headless frontend does.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import type { Auth } from "../../src/auth.ts";
import { fastHasher } from "../http/support.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

export interface Browser {
  /**
   * `path` on the origin, with the browser's cookies; a JSON body when `body` is given, or a
   * form's when `body` is a `URLSearchParams`.
   */
  request(method: string, path: string, body?: unknown): Promise<Response>;
  readonly cookies: Map<string, string>;
}

export function browser(origin: string, send: (request: Request) => Promise<Response> = fetch): Browser {
  const cookies = new Map<string, string>();
  return {
    cookies,
    async request(method, path, body) {
      const headers = new Headers({ "user-agent": "recipes-test" });
      if (cookies.size > 0) {
        headers.set("cookie", [...cookies].map(([name, value]) => `${name}=${value}`).join("; "));
      }
      const csrf = cookies.get("csrftoken");
      if (method !== "GET" && method !== "HEAD") {
        headers.set("origin", origin);
        if (csrf !== undefined) {
          headers.set("x-csrftoken", csrf);
        }
      }
      const form = body instanceof URLSearchParams;
      if (body !== undefined) {
        headers.set("content-type", form ? "application/x-www-form-urlencoded" : "application/json");
      }
      const text = body === undefined ? undefined : form ? body.toString() : JSON.stringify(body);
      const response = await send(new Request(`${origin}${path}`, { method, headers, ...(text === undefined ? {} : { body: text }) }));
      for (const cookie of response.headers.getSetCookie()) {
        const pair = cookie.split(";")[0]!;
        const at = pair.indexOf("=");
        const name = pair.slice(0, at);
        if (/max-age=0(;|$)/i.test(cookie)) {
          cookies.delete(name);
        } else {
          cookies.set(name, pair.slice(at + 1));
        }
      }
      return response;
    },
  };
}

/** The status and the JSON body (null when empty), once the outbox has run what the step started. */
async function answer(h: Harness, response: Response): Promise<{ status: number; body: any }> {
  const text = await response.text();
  await h.auth.outbox.settled();
  return { status: response.status, body: text === "" ? null : JSON.parse(text) };
}

/**
 * Signup, the app's protected route, logout, the route again, login, the route, logout, the
 * route: each step's status and signals, through the recipe's real mounting. `ip` is the address
 * the signals must carry (the recipe's way of passing the client's IP).
 */
export async function browserFlow(
  h: Harness,
  b: Browser,
  options: { readonly mePath: string; readonly basePath?: string; readonly ip: string },
): Promise<void> {
  const api = `${options.basePath ?? "/_allauth"}/browser/v1`;
  const email = "recipe@example.com";
  const me = async (): Promise<{ status: number; body: any }> => answer(h, await b.request("GET", options.mePath));

  expect((await answer(h, await b.request("GET", `${api}/config`))).status).toBe(200);
  expect(b.cookies.has("csrftoken")).toBe(true);
  expect(await me()).toMatchObject({ status: 401 });

  const signup = await answer(h, await b.request("POST", `${api}/auth/signup`, { email, password: goodPassword }));
  expect(signup.status).toBe(200);
  expect(signup.body.data.user.email).toBe(email);
  expect(h.signals.map((s) => s.request.ip)).toEqual([options.ip, options.ip]);
  expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in"]);
  expect(b.cookies.has("sessionid")).toBe(true);
  expect(await me()).toEqual({ status: 200, body: { email } });

  const logout = await answer(h, await b.request("DELETE", `${api}/auth/session`));
  expect(logout.status).toBe(401);
  expect(h.takeSignals()).toEqual(["user_logged_out"]);
  expect(await me()).toMatchObject({ status: 401 });

  const login = await answer(h, await b.request("POST", `${api}/auth/login`, { email, password: goodPassword }));
  expect(login.status).toBe(200);
  expect(h.takeSignals()).toEqual(["user_logged_in"]);
  expect(await me()).toEqual({ status: 200, body: { email } });

  expect((await answer(h, await b.request("DELETE", `${api}/auth/session`))).status).toBe(401);
  expect(h.takeSignals()).toEqual(["user_logged_out"]);
  expect(await me()).toMatchObject({ status: 401 });
  expect(h.takeSignals()).toEqual([]);
}

/** A recipe's app, listening on 127.0.0.1. */
export interface Served {
  readonly origin: string;
  readonly close: () => Promise<void>;
}

/** A `node:http` server once it listens (started on 127.0.0.1, port 0). */
export async function served(server: Server): Promise<Served> {
  if (!server.listening) {
    await new Promise<void>((resolve) => server.once("listening", resolve));
  }
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

/**
 * Registers, inside a `describe`, the tests every served recipe passes: the browser flow through
 * real HTTP, and paths that are not the handler's reaching the app (`appNotFound` checks the
 * app's own 404), while unknown API paths are the API's 404. Returns `start` for the file's own tests.
 */
export function recipeTests(
  serve: (auth: Auth) => Promise<Served>,
  appNotFound: (response: Response, path: string) => Promise<void>,
): () => Promise<{ readonly h: Harness; readonly origin: string }> {
  let h: Harness | undefined;
  let app: Served | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await h?.close();
    h = undefined;
  });
  const start = async (): Promise<{ readonly h: Harness; readonly origin: string }> => {
    h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher });
    app = await serve(h.auth);
    return { h, origin: app.origin };
  };

  it("signup, logout, login through the API; the app's /me follows the session", async () => {
    const { h, origin } = await start();
    await browserFlow(h, browser(origin), { mePath: "/me", ip: "127.0.0.1" });
  });

  it("other paths reach the app; unknown API paths are the API's 404", async () => {
    const { h, origin } = await start();
    for (const path of ["/nowhere", "/accounts/settings"]) {
      await appNotFound(await fetch(`${origin}${path}`), path);
    }
    const api = await fetch(`${origin}/_allauth/browser/v1/nowhere`);
    expect([api.status, await api.json()]).toEqual([404, { status: 404 }]);
    expect(h.takeSignals()).toEqual([]);
  });
  return start;
}
