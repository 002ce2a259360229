/**
 * The Next.js recipe (examples/nextjs/): its route handlers called with fetch `Request`s as Next
 * calls them, on a harness auth in place of examples/nextjs/auth.ts. A browser signs up, logs out
 * and in, and the app's own `/me` follows; the client IP is the address the proxy in front
 * (Vercel's edge) added last to `X-Forwarded-For`.
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import type { Harness } from "../support/harness.ts";
import type { IdentityProvider } from "../support/oidc-provider.ts";
import * as api from "../../examples/nextjs/app/%5Fallauth/[...path]/route.ts";
import * as accounts from "../../examples/nextjs/app/accounts/[...path]/route.ts";
import * as me from "../../examples/nextjs/app/me/route.ts";
import nextConfig from "../../examples/nextjs/next.config.ts";
import { browser, browserFlow } from "./support.ts";

const origin = "http://localhost:3000";
const state = vi.hoisted(() => ({ h: undefined as Harness | undefined, idp: undefined as IdentityProvider | undefined }));

vi.mock("../../examples/nextjs/auth.ts", async () => {
  const { harness } = await import("../support/harness.ts");
  const { fastHasher } = await import("../http/support.ts");
  const { forgetClients } = await import("../../src/social/client.ts");
  const { startIdentityProvider } = await import("../support/oidc-provider.ts");
  const { clientId, clientSecret, people, socialConfig } = await import("../support/social.ts");
  forgetClients();
  // The provider knows the app's callback on the origin the browser sees.
  const redirectUris = ["http://localhost:3000/accounts/devidp/login/callback/"];
  state.idp = await startIdentityProvider({ clients: [{ clientId, secret: clientSecret, redirectUris }], accounts: people });
  state.h = await harness({
    account: { loginMethods: ["email"], emailVerification: "none" },
    passwordHasher: fastHasher,
    // As examples/nextjs/auth.ts has it.
    trustedProxyCount: 1,
    socialaccount: socialConfig(state.idp),
  });
  return { auth: state.h.auth };
});

afterAll(async () => {
  await state.h?.close();
  await state.idp?.close();
});

type RouteModule = Readonly<Record<string, (request: Request) => Promise<Response>>>;

/**
 * Next's part: a path ending in `/` is redirected to the one without it unless the recipe's
 * next.config.ts sets `skipTrailingSlashRedirect`; then the file that serves the path, and its
 * export named after the method.
 */
function next(request: Request, config: { readonly skipTrailingSlashRedirect?: boolean } = nextConfig): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname;
  if (config.skipTrailingSlashRedirect !== true && path.length > 1 && path.endsWith("/")) {
    return Promise.resolve(new Response(null, { status: 308, headers: { location: `${path.slice(0, -1)}${url.search}` } }));
  }
  const module: RouteModule | undefined = path.startsWith("/_allauth/")
    ? api
    : path.startsWith("/accounts/")
      ? accounts
      : path === "/me"
        ? me
        : undefined;
  const method = module?.[request.method];
  if (method === undefined) {
    return Promise.resolve(new Response(null, { status: module === undefined ? 404 : 405 }));
  }
  // The client sent its own X-Forwarded-For; the proxy in front appended the address it saw.
  request.headers.set("x-forwarded-for", "198.51.100.1, 203.0.113.7");
  return method(request);
}

describe("Next.js recipe", () => {
  it("exports the methods the API answers", () => {
    expect(Object.keys(api).sort()).toEqual(["DELETE", "GET", "PATCH", "POST", "PUT"]);
    expect(Object.keys(me)).toEqual(["GET"]);
    expect(Object.keys(accounts).sort()).toEqual(["GET", "POST"]);
  });

  it("social login: the redirect form, the provider, the callback under /accounts/ (trailing slash kept), then /me", async () => {
    const h = state.h!;
    h.takeSignals();
    const b = browser(origin, next);
    await b.request("GET", "/_allauth/browser/v1/config");
    const form = new URLSearchParams({
      provider: "devidp",
      process: "login",
      callback_url: "/account/provider/callback",
      csrfmiddlewaretoken: b.cookies.get("csrftoken")!,
    });
    const redirect = await b.request("POST", "/_allauth/browser/v1/auth/provider/redirect", form);
    expect(redirect.status).toBe(302);
    const back = await state.idp!.signIn(redirect.headers.get("location")!, { account: "alice" });
    expect(`${back.origin}${back.pathname}`).toBe(`${origin}/accounts/devidp/login/callback/`);
    const callback = await b.request("GET", `${back.pathname}${back.search}`);
    expect([callback.status, callback.headers.get("location")]).toEqual([302, "/account/provider/callback"]);
    await h.auth.outbox.settled();
    expect(h.signals.map((s) => s.request.ip)).toEqual(["203.0.113.7", "203.0.113.7", "203.0.113.7"]);
    expect(h.takeSignals()).toEqual(["pre_social_login", "user_signed_up", "user_logged_in"]);
    const who = await b.request("GET", "/me");
    expect([who.status, await who.json()]).toEqual([200, { email: "alice@example.com" }]);
    expect((await b.request("DELETE", "/_allauth/browser/v1/auth/session")).status).toBe(401);
    expect(h.takeSignals()).toEqual(["user_logged_out"]);
    expect((await b.request("GET", "/me")).status).toBe(401);
  });

  it("without the recipe's skipTrailingSlashRedirect, Next sends the callback to a path the handler does not serve", async () => {
    const plain = (request: Request) => next(request, {});
    const callback = await plain(new Request(`${origin}/accounts/devidp/login/callback/?code=x&state=y`));
    expect([callback.status, callback.headers.get("location")]).toEqual([308, "/accounts/devidp/login/callback?code=x&state=y"]);
    const followed = await plain(new Request(`${origin}/accounts/devidp/login/callback?code=x&state=y`));
    expect(followed.status).toBe(404);
    expect(state.h!.takeSignals()).toEqual([]);
  });

  it("signup, logout, login through the route handlers; /me follows the session", async () => {
    await browserFlow(state.h!, browser("http://localhost:3000", next), { mePath: "/me", ip: "203.0.113.7" });
  });

  it("unknown API paths are the API's 404", async () => {
    const response = await next(new Request("http://localhost:3000/_allauth/browser/v1/nowhere"));
    expect([response.status, await response.json()]).toEqual([404, { status: 404 }]);
    expect(state.h!.takeSignals()).toEqual([]);
  });
});
