/**
 * Social login over a real OpenID provider, through the browser's redirect round trip: the
 * signal orders of SIGNALS.md §4 for a social signup, a returning login, a login over another
 * user's session, and mandatory verification of an address the provider did not verify.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestContext } from "effect";
import { openTokens } from "../../src/social/token-box.ts";
import { goodPassword, harness, testSecret } from "../support/harness.ts";
import { advance, take } from "./support.ts";
import type { IdentityProvider } from "../support/oidc-provider.ts";
import { frontendCallback, socialConfig, socialHarness, socialRoundTrip, startProvider, startRedirect } from "../support/social.ts";

let idp: IdentityProvider;
beforeAll(async () => {
  idp = await startProvider();
});
afterAll(async () => {
  await idp.close();
});

describe("social login through the browser redirect", () => {
  it("signs a new person up: pre_social_login → user_signed_up(socialLogin) → user_logged_in(socialLogin)", async () => {
    const h = await socialHarness(idp, { account: { loginMethods: ["email"], emailVerification: "mandatory" } });
    const browser = h.browser();
    const back = await socialRoundTrip(h, browser, idp, "alice");
    expect(back).toBe(frontendCallback);
    const signals = take(h);
    expect(signals.names).toEqual(["pre_social_login", "user_signed_up", "user_logged_in"]);
    expect(signals.one("pre_social_login").socialLogin).toMatchObject({ provider: "devidp", isExisting: false, userId: null });
    expect(signals.one("user_signed_up").socialLogin).toMatchObject({ provider: "devidp", isExisting: true });
    expect(signals.one("user_logged_in").socialLogin).toMatchObject({ provider: "devidp", userId: signals.one("user_signed_up").user.id });
    const session = await browser.request("GET", "auth/session");
    expect(session.status).toBe(200);
    expect(session.body.data.user.email).toBe("alice@example.com");
    expect(session.body.data.methods.at(-1)).toMatchObject({ method: "socialaccount", provider: "devidp" });
    const providers = await browser.request("GET", "account/providers");
    expect(providers.body.data).toMatchObject([{ provider: { id: "devidp", name: "Dev IdP" } }]);
    expect(h.takeMails()).toEqual([]);
    await h.close();
  });

  it("returning: social_account_updated → pre_social_login → user_logged_in, and no second user", async () => {
    const h = await socialHarness(idp);
    await socialRoundTrip(h, h.browser(), idp, "alice");
    h.takeSignals();
    const again = h.browser();
    expect(await socialRoundTrip(h, again, idp, "alice")).toBe(frontendCallback);
    expect(h.takeSignals()).toEqual(["social_account_updated", "pre_social_login", "user_logged_in"]);
    expect(await h.count("auth_user")).toBe(1);
    await h.close();
  });

  it("over another user's session: user_logged_out for that user first", async () => {
    const h = await socialHarness(idp, { account: { loginMethods: ["email"], emailVerification: "none" } });
    await socialRoundTrip(h, h.browser(), idp, "alice");
    const browser = h.browser();
    await browser.request("POST", "auth/signup", { email: "zed@example.com", password: goodPassword });
    h.takeSignals();
    await socialRoundTrip(h, browser, idp, "alice");
    const signals = take(h);
    expect(signals.names).toEqual(["social_account_updated", "pre_social_login", "user_logged_out", "user_logged_in"]);
    expect(signals.one("user_logged_out").user?.email).toBe("zed@example.com");
    const session = await browser.request("GET", "auth/session");
    expect(session.body.data.user.email).toBe("alice@example.com");
    await h.close();
  });

  it("an address the provider did not verify, under mandatory verification: user_signed_up → email_confirmation_sent, then stop", async () => {
    const h = await socialHarness(idp, { account: { loginMethods: ["email"], emailVerification: "mandatory" } });
    const browser = h.browser();
    expect(await socialRoundTrip(h, browser, idp, "bob")).toBe(frontendCallback);
    expect(h.takeSignals()).toEqual(["pre_social_login", "user_signed_up", "email_confirmation_sent"]);
    const session = await browser.request("GET", "auth/session");
    expect(session.status).toBe(401);
    expect(session.body.data.flows).toContainEqual({ id: "verify_email", is_pending: true });
    expect(h.takeMails().map((m) => m.to)).toEqual(["bob@example.com"]);
    await h.close();
  });
});

describe("redirect states", () => {
  it("an expired, unused state is swept when the next redirect starts", async () => {
    const h = await harness({ socialaccount: socialConfig(idp) }, { layer: TestContext.TestContext });
    await startRedirect(h, h.browser());
    expect(await h.count("auth_social_state")).toBe(1);
    await advance(h, "601 seconds");
    await startRedirect(h, h.browser());
    expect(await h.count("auth_social_state")).toBe(1);
    await h.close();
  });
});

describe("storeTokens", () => {
  it("keeps the provider's tokens sealed at rest, never in clear, and none by default (OA-16)", async () => {
    const plain = await socialHarness(idp);
    await socialRoundTrip(plain, plain.browser(), idp, "alice");
    expect(await plain.count("auth_social_token")).toBe(0);
    await plain.close();

    const h = await socialHarness(idp, {}, { storeTokens: true });
    await socialRoundTrip(h, h.browser(), idp, "alice");
    const rows = await h.query<{ sealed: string }>("SELECT sealed FROM auth_social_token");
    expect(rows).toHaveLength(1);
    const opened = openTokens(testSecret, rows[0]!.sealed);
    expect(opened?.accessToken.length).toBeGreaterThan(10);
    expect(rows[0]!.sealed).not.toContain(opened!.accessToken);
    await h.close();
  });
});
