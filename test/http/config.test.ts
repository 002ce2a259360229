/**
 * `GET config` lists only what is configured (allauth's `ConfigResponse`), and `auth/sessions`
 * exists only with `usersessions` (allauth: when `allauth.usersessions` is installed).
 */
import { TestContext } from "effect";
import { describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import { advance, fastHasher, take } from "./support.ts";

const account = { loginMethods: ["email"] as const, emailVerification: "none" as const };

describe("GET config", () => {
  it("has only the account keys by default: no usersessions, no socialaccount, no mfa", async () => {
    const h = await harness({ account, passwordHasher: fastHasher });
    for (const client of [h.browser(), h.app()]) {
      const res = await client.request("GET", "config");
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        status: 200,
        data: {
          account: {
            login_methods: ["email"],
            is_open_for_signup: true,
            email_verification_by_code_enabled: false,
            login_by_code_enabled: false,
            password_reset_by_code_enabled: false,
            authentication_method: "email",
          },
        },
      });
    }
    expect(take(h).names).toEqual([]);
    await h.close();
  });

  it("reports the configured features and authentication_method as allauth derives it", async () => {
    const h = await harness({
      passwordHasher: fastHasher,
      adapter: { isOpenForSignup: () => false },
      account: {
        loginMethods: ["username", "email"],
        emailVerification: "mandatory",
        emailVerificationByCodeEnabled: true,
        loginByCodeEnabled: true,
        passwordResetByCodeEnabled: true,
      },
    });
    const res = await h.app().request("GET", "config");
    expect(res.body.data).toEqual({
      account: {
        login_methods: ["username", "email"],
        is_open_for_signup: false,
        email_verification_by_code_enabled: true,
        login_by_code_enabled: true,
        password_reset_by_code_enabled: true,
        authentication_method: "username_email",
      },
    });
    await h.close();
  });

  it("without usersessions, auth/sessions is not routed (404) for either client", async () => {
    const h = await harness({ account, passwordHasher: fastHasher });
    const browser = h.browser();
    expect((await browser.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    expect((await browser.request("GET", "auth/sessions")).status).toBe(404);
    expect((await h.app().request("GET", "auth/sessions")).status).toBe(404);
    await h.close();
  });

  it("with usersessions: true the key says track_activity false and sessions have no last_seen_at", async () => {
    const h = await harness({ account, passwordHasher: fastHasher, usersessions: true });
    const browser = h.browser();
    expect((await browser.request("GET", "config")).body.data.usersessions).toEqual({ track_activity: false });
    await browser.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    const list = await browser.request("GET", "auth/sessions");
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([
      { user_agent: "vitest", ip: "10.0.0.1", created_at: expect.any(Number), is_current: true, id: expect.any(Number) },
    ]);
    await h.close();
  });

  it("with trackActivity every authenticated request stamps last_seen_at, ip and user agent", async () => {
    const h = await harness(
      { account, passwordHasher: fastHasher, usersessions: { trackActivity: true } },
      { layer: TestContext.TestContext },
    );
    const app = h.app();
    expect((await app.request("GET", "config")).body.data.usersessions).toEqual({ track_activity: true });
    await app.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    const first = (await app.request("GET", "auth/sessions")).body.data[0];
    expect(first.last_seen_at).toBe(first.created_at);
    await advance(h, "90 seconds");
    await app.request("GET", "auth/session", undefined, { "user-agent": "other agent" });
    const [row] = await h.query<{ user_agent: string; last_seen_at: number }>("SELECT user_agent, last_seen_at FROM auth_session");
    expect(row!.user_agent).toBe("other agent");
    expect(Number(row!.last_seen_at) / 1000).toBe(first.created_at + 90);
    const second = (await app.request("GET", "auth/sessions")).body.data[0];
    expect(second.last_seen_at).toBe(first.created_at + 90);
    expect(second.user_agent).toBe("vitest");
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
    await h.close();
  });
});
