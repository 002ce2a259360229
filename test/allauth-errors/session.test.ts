/**
 * ALLAUTH-ERRORS.md §2, GET / DELETE auth/session, for the app and the browser client: 401 when
 * not authenticated or while a login is pending, 401 after every logout, and 410 (app only) for
 * a session token that names no session; none of them carries `errors`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { fastHasher } from "../http/support.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { clients, client, dataRows, withoutWrites } from "./support.ts";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

describe.each(clients)("auth/session (%s client)", (kind) => {
  it("GET 401 when nobody is logged in, and while a login is pending", async () => {
    h = await harness({ passwordHasher: fastHasher, account: { loginMethods: ["email"], emailVerification: "mandatory" } });
    const c = client(h, kind);
    const anonymous = await withoutWrites(h, () => c.request("GET", "auth/session"));
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).not.toHaveProperty("errors");
    expect(anonymous.body.meta.is_authenticated).toBe(false);
    expect((await c.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(401);
    h.takeSignals();
    const pending = await withoutWrites(h, () => c.request("GET", "auth/session"));
    expect(pending.status).toBe(401);
    expect(pending.body.data.flows).toContainEqual({ id: "verify_email", is_pending: true });
  });

  it("DELETE 401 after the logout, and 401 again when nobody was logged in", async () => {
    h = await harness({ passwordHasher: fastHasher, account: { loginMethods: ["email"], emailVerification: "none" } });
    const c = client(h, kind);
    expect((await c.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();
    const out = await c.request("DELETE", "auth/session");
    expect(out.status).toBe(401);
    expect(out.body).not.toHaveProperty("errors");
    expect(h.takeSignals()).toEqual(["user_logged_out"]);
    // Django's logout signals even for nobody (user None), and writes nothing.
    const before = await dataRows(h);
    const again = await client(h, kind).request("DELETE", "auth/session");
    expect(again.status).toBe(401);
    expect(again.body).not.toHaveProperty("errors");
    expect(await dataRows(h)).toEqual(before);
    expect(h.takeSignals()).toEqual(["user_logged_out"]);
  });

  it("401 flows in allauth's order: login, login_by_code, signup while open, the pending stage, password_reset_by_code last", async () => {
    h = await harness({
      passwordHasher: fastHasher,
      account: { loginMethods: ["email"], emailVerification: "mandatory", loginByCodeEnabled: true, passwordResetByCodeEnabled: true },
    });
    const c = client(h, kind);
    expect((await c.request("GET", "auth/session")).body.data.flows).toEqual([
      { id: "login" },
      { id: "login_by_code" },
      { id: "signup" },
      { id: "password_reset_by_code", is_pending: false },
    ]);
    await c.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect((await c.request("GET", "auth/session")).body.data.flows).toEqual([
      { id: "login" },
      { id: "login_by_code" },
      { id: "signup" },
      { id: "verify_email", is_pending: true },
      { id: "password_reset_by_code", is_pending: false },
    ]);
    const other = client(h, kind);
    expect((await other.request("POST", "auth/password/request", { email: "ann@example.com" })).body.data.flows).toEqual([
      { id: "login" },
      { id: "login_by_code" },
      { id: "signup" },
      { id: "password_reset_by_code", is_pending: true },
    ]);
    expect(h.takeSignals()).toEqual(["user_signed_up", "email_confirmation_sent"]);
  });

  it("401 flows leave signup out while signup is closed, and list only login by default", async () => {
    h = await harness({ passwordHasher: fastHasher, adapter: { isOpenForSignup: () => false } });
    expect((await client(h, kind).request("GET", "auth/session")).body.data.flows).toEqual([{ id: "login" }]);
    await h.close();
    h = await harness({ passwordHasher: fastHasher });
    expect((await client(h, kind).request("GET", "auth/session")).body.data.flows).toEqual([{ id: "login" }, { id: "signup" }]);
    expect(h.takeSignals()).toEqual([]);
  });
});

describe("auth/session, app client only", () => {
  it("410 with is_authenticated null for a token that names no session", async () => {
    h = await harness({ passwordHasher: fastHasher, account: { loginMethods: ["email"], emailVerification: "none" } });
    const c = h.app();
    c.token = "no-such-session-token";
    const res = await withoutWrites(h, () => c.request("GET", "auth/session"));
    expect(res.status).toBe(410);
    expect(res.body).not.toHaveProperty("errors");
    expect(res.body.meta).toEqual({ is_authenticated: null });
  });
});
