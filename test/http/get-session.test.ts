/**
 * `auth.getSession(request)` for the app's own routes: the logged-in user and how the session
 * authenticated, for the browser's cookie and the app's token, from a fetch `Request` or a Node
 * request's headers; null for no session, a session holding only a pending flow, a logged-out or
 * unknown token and a deactivated user; one SQL statement per call.
 */
import { Effect, Layer, Tracer } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher, take } from "./support.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/** Every span name the runtime opens (`sql.execute` once per statement). */
const spans: Array<string> = [];
const countingTracer = Layer.unwrapEffect(
  Effect.map(Effect.tracer, (native) =>
    Layer.setTracer(
      Tracer.make({
        span: (name, ...rest) => {
          spans.push(name);
          return native.span(name, ...rest);
        },
        context: (f, fiber) => native.context(f, fiber),
      }),
    ),
  ),
);

async function open(emailVerification: "none" | "mandatory" = "none"): Promise<Harness> {
  h = await harness(
    { account: { loginMethods: ["email"], emailVerification }, passwordHasher: fastHasher, usersessions: {} },
    { layer: countingTracer, tracing: true },
  );
  return h;
}

const browserRequest = (cookies: Map<string, string>) =>
  new Request("http://127.0.0.1/dashboard", { headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") } });

describe("auth.getSession", () => {
  it("browser: the user and the login's method from the session cookie; null once logged out", async () => {
    await open();
    const browser = h.browser();
    expect(await h.auth.getSession(browserRequest(browser.cookies))).toBeNull();
    await h.browser().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
    await browser.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(take(h).names).toEqual(["user_logged_in"]);
    const listed = await browser.request("GET", "auth/sessions");

    const session = await h.auth.getSession(browserRequest(browser.cookies));
    expect(session).not.toBeNull();
    expect(session!.client).toBe("browser");
    expect(session!.user).toMatchObject({ email: "ann@example.com", isActive: true, hasUsablePassword: true });
    expect(session!.methods).toEqual([expect.objectContaining({ method: "password", email: "ann@example.com" })]);
    expect(session!.sessionId).toBe(listed.body.data.find((s: { is_current: boolean }) => s.is_current).id);

    await browser.request("DELETE", "auth/session");
    expect(take(h).names).toEqual(["user_logged_out"]);
    expect(await h.auth.getSession(browserRequest(browser.cookies))).toBeNull();
  });

  it("app: the X-Session-Token header, also as a Node request's plain headers object", async () => {
    await open();
    const app = h.app();
    await app.request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword });
    take(h);
    const viaFetch = await h.auth.getSession(new Request("http://127.0.0.1/x", { headers: { "x-session-token": app.token! } }));
    expect(viaFetch?.client).toBe("app");
    expect(viaFetch?.user.email).toBe("bob@example.com");
    const viaNode = await h.auth.getSession({ headers: { "x-session-token": app.token!, host: "127.0.0.1" } });
    expect(viaNode).toEqual(viaFetch);
    expect(await h.auth.getSession({ headers: { "x-session-token": "not-a-token" } })).toBeNull();
    expect(await h.auth.getSession({ headers: { "x-session-token": "x".repeat(500) } })).toBeNull();
  });

  it("null for a session that only holds a pending flow, and for a user deactivated since login", async () => {
    await open("mandatory");
    const pending = h.browser();
    const signup = await pending.request("POST", "auth/signup", { email: "cy@example.com", password: goodPassword });
    expect(signup.status).toBe(401);
    expect(pending.cookies.has("sessionid")).toBe(true);
    expect(await h.auth.getSession(browserRequest(pending.cookies))).toBeNull();
    expect(take(h).names).toEqual(["user_signed_up", "email_confirmation_sent"]);

    await h.query("UPDATE auth_email_address SET verified = 1");
    const app = h.app();
    expect((await app.request("POST", "auth/login", { email: "cy@example.com", password: goodPassword })).status).toBe(200);
    expect(take(h).names).toEqual(["user_logged_in"]);
    expect(await h.auth.getSession({ headers: { "x-session-token": app.token! } })).not.toBeNull();
    await h.query("UPDATE auth_user SET is_active = 0");
    expect(await h.auth.getSession({ headers: { "x-session-token": app.token! } })).toBeNull();
  });

  it("reads with one SQL statement", async () => {
    await open();
    const app = h.app();
    await app.request("POST", "auth/signup", { email: "dee@example.com", password: goodPassword });
    take(h);
    spans.length = 0;
    expect(await h.auth.getSession({ headers: { "x-session-token": app.token! } })).not.toBeNull();
    expect(spans.filter((name) => name === "sql.execute")).toHaveLength(1);
  });
});
