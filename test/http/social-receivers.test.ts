/**
 * `pre_social_login` receivers over a real OpenID provider: one that answers itself
 * (`ImmediateResponse`) after the account's data was already refreshed, one that connects a new
 * person to an existing user, and one that throws (the step is rolled back: DESIGN §3).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { ImmediateResponse } from "../../src/index.ts";
import type { Harness } from "../support/harness.ts";
import type { IdentityProvider } from "../support/oidc-provider.ts";
import { clientId, frontendCallback, people, providerToken, socialCallback, socialHarness, socialRoundTrip, startProvider } from "../support/social.ts";
import { fastHasher, login, signup, take } from "./support.ts";

/** The provider's people, changed between logins by the tests (read at each claim). */
const accounts: Record<string, Record<string, unknown>> = {};
let idp: IdentityProvider;
beforeAll(async () => {
  idp = await startProvider(accounts);
});
afterAll(async () => {
  await idp.close();
});

const base: Partial<AuthConfig> = { account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher };

/** A fresh harness where alice (as the provider first knows her) has signed up socially. */
async function aliceSignedUp(): Promise<{ h: Harness; userId: string }> {
  accounts["alice"] = { ...people["alice"] };
  accounts["carol"] = { ...people["carol"] };
  const h = await socialHarness(idp, base);
  await socialRoundTrip(h, h.browser(), idp, "alice");
  const signals = take(h);
  expect(signals.names).toEqual(["pre_social_login", "user_signed_up", "user_logged_in"]);
  accounts["alice"] = { ...people["alice"], name: "Alice Changed" };
  return { h, userId: signals.one("user_signed_up").user.id };
}

async function extraData(h: Harness): Promise<string> {
  const [row] = await h.query<{ extra_data: string }>("SELECT extra_data FROM auth_social_account WHERE uid = ?", "alice");
  return row!.extra_data;
}

/** `POST auth/provider/token` straight to the handler (its answer may not be JSON). */
async function appToken(h: Harness, account: string): Promise<Response> {
  const idToken = await idp.idTokenFor(account, { clientId });
  return h.auth.handler(
    new Request("http://127.0.0.1/_allauth/app/v1/auth/provider/token", {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "vitest" },
      body: JSON.stringify({ provider: "devidp", process: "login", token: { client_id: clientId, id_token: idToken } }),
    }),
    { ip: "10.0.2.1" },
  );
}

describe("a receiver that answers itself (ImmediateResponse)", () => {
  it("browser: the callback answers 418, after social_account_updated → pre_social_login; the new data is saved", async () => {
    const { h } = await aliceSignedUp();
    h.auth.signals.on("pre_social_login", () => {
      throw new ImmediateResponse(new Response("stopped", { status: 418 }));
    });
    const browser = h.browser();
    const res = await socialCallback(h, browser, idp, "alice");
    expect(res.status).toBe(418);
    expect(await res.text()).toBe("stopped");
    expect(take(h).names).toEqual(["social_account_updated", "pre_social_login"]);
    expect(await extraData(h)).toContain("Alice Changed");
    expect(await extraData(h)).not.toContain("Alice Liddell");
    expect((await browser.request("GET", "auth/session")).status).toBe(401);
    expect(await h.count("auth_social_account")).toBe(1);
    await h.close();
  });

  it("app token: the same 418, and the same data saved", async () => {
    const { h } = await aliceSignedUp();
    h.auth.signals.on("pre_social_login", () => {
      throw new ImmediateResponse(new Response("stopped", { status: 418 }));
    });
    const res = await appToken(h, "alice");
    expect(res.status).toBe(418);
    expect(await res.text()).toBe("stopped");
    expect(take(h).names).toEqual(["social_account_updated", "pre_social_login"]);
    expect(await extraData(h)).toContain("Alice Changed");
    await h.close();
  });
});

describe("a receiver that connects the login to an existing user", () => {
  async function withZed(): Promise<{ h: Harness; zed: string }> {
    accounts["carol"] = { ...people["carol"] };
    const h = await socialHarness(idp, base);
    expect((await signup(h.browser(), { email: "zed@example.com" })).status).toBe(200);
    const zed = (await login(h.app(), { email: "zed@example.com" })).body.data.user.id as string;
    h.takeSignals();
    h.auth.signals.on("pre_social_login", (payload) => {
      if (payload.socialLogin.userId === null) {
        payload.connect(zed);
      }
    });
    return { h, zed };
  }

  it("browser: pre_social_login → social_account_added → user_logged_in as that user, no signup", async () => {
    const { h, zed } = await withZed();
    const browser = h.browser();
    expect(await socialRoundTrip(h, browser, idp, "carol")).toBe(frontendCallback);
    const signals = take(h);
    expect(signals.names).toEqual(["pre_social_login", "social_account_added", "user_logged_in"]);
    expect(signals.one("social_account_added").socialLogin).toEqual({ provider: "devidp", uid: "carol", userId: zed, isExisting: true });
    expect(signals.one("user_logged_in").user.id).toBe(zed);
    const session = await browser.request("GET", "auth/session");
    expect(session.body.data.user.id).toBe(zed);
    expect(session.body.data.methods.at(-1)).toMatchObject({ method: "socialaccount", provider: "devidp", uid: "carol" });
    expect(await h.query("SELECT user_id, uid FROM auth_social_account")).toEqual([{ user_id: zed, uid: "carol" }]);
    expect(await h.count("auth_user")).toBe(1);
    await h.close();
  });

  it("app token: 200 as that user, the same signals", async () => {
    const { h, zed } = await withZed();
    const res = await providerToken(h.app(), idp, "carol");
    expect(res.status).toBe(200);
    expect(res.body.data.user.id).toBe(zed);
    expect(take(h).names).toEqual(["pre_social_login", "social_account_added", "user_logged_in"]);
    expect(await h.count("auth_user")).toBe(1);
    await h.close();
  });
});

describe("a receiver that throws", () => {
  it("browser: 500, the whole step rolled back (the refreshed data too), the failure reported", async () => {
    accounts["alice"] = { ...people["alice"] };
    const reported: Array<unknown> = [];
    const h = await socialHarness(idp, base, {}, { report: (_message, error) => void reported.push(error) });
    await socialRoundTrip(h, h.browser(), idp, "alice");
    h.takeSignals();
    accounts["alice"] = { ...people["alice"], name: "Alice Changed" };
    const boom = new Error("receiver failed");
    h.auth.signals.on("pre_social_login", () => {
      throw boom;
    });
    const browser = h.browser();
    const res = await socialCallback(h, browser, idp, "alice");
    expect(res.status).toBe(500);
    // In-step receivers heard the signals before the throw; nothing of the step stayed.
    expect(take(h).names).toEqual(["social_account_updated", "pre_social_login"]);
    expect(reported).toContain(boom);
    expect(await extraData(h)).not.toContain("Alice Changed");
    expect((await browser.request("GET", "auth/session")).status).toBe(401);
    await h.close();
  });

  it("a new person: 500, no user, no account", async () => {
    accounts["carol"] = { ...people["carol"] };
    const h = await socialHarness(idp, base, {}, { report: () => undefined });
    h.auth.signals.on("pre_social_login", () => {
      throw new Error("receiver failed");
    });
    const res = await appToken(h, "carol");
    expect(res.status).toBe(500);
    expect(take(h).names).toEqual(["pre_social_login"]);
    expect(await h.count("auth_user")).toBe(0);
    expect(await h.count("auth_social_account")).toBe(0);
    await h.close();
  });
});
