/**
 * A social identity is the provider's id and the provider's `sub` (SECURITY.md OA-08, CC-07):
 * never an address or a name the person can change at the provider. The same `sub` and address
 * from two providers are two identities; a person who takes another's `preferred_username` (or
 * address) at the provider still logs into their own account; and two users connecting the same
 * identity at once end with one link.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import type { Harness } from "../support/harness.ts";
import { startIdentityProvider } from "../support/oidc-provider.ts";
import type { IdentityProvider, TestAccount } from "../support/oidc-provider.ts";
import { clientId, clientSecret, frontendCallback, locationOf, people, socialHarness, socialRoundTrip, startProvider, startRedirect, visit } from "../support/social.ts";
import { fastHasher, login, signup, take } from "../http/support.ts";

const accounts: Record<string, TestAccount> = { ...people, mallory: { email: "mallory@example.com", email_verified: true, preferred_username: "mallory" } };
let idp: IdentityProvider;
let other: IdentityProvider;
beforeAll(async () => {
  idp = await startProvider(accounts);
  other = await startIdentityProvider({ clients: [{ clientId, secret: clientSecret, redirectUris: ["http://127.0.0.1/accounts/otheridp/login/callback/"] }], accounts });
});
afterAll(async () => {
  await idp.close();
  await other.close();
});

const base: Partial<AuthConfig> = { account: { loginMethods: ["email"], emailVerification: "optional" }, passwordHasher: fastHasher };

function links(h: Harness): Promise<ReadonlyArray<{ provider: string; uid: string; user_id: string }>> {
  return h.query("SELECT provider, uid, user_id FROM auth_social_account ORDER BY provider, uid");
}

describe("identity is (provider, sub) (OA-08)", () => {
  it("a person who takes another's preferred_username and address at the provider logs into their own account", async () => {
    const h = await socialHarness(idp, base);
    expect(await socialRoundTrip(h, h.browser(), idp, "alice")).toBe(frontendCallback);
    expect(await socialRoundTrip(h, h.browser(), idp, "mallory")).toBe(frontendCallback);
    h.takeSignals();
    const [alice, mallory] = await links(h);
    expect([alice!.uid, mallory!.uid]).toEqual(["alice", "mallory"]);
    accounts["mallory"] = { email: "alice@example.com", email_verified: true, preferred_username: "alice", name: "Alice Liddell" };
    try {
      const browser = h.browser();
      expect(await socialRoundTrip(h, browser, idp, "mallory")).toBe(frontendCallback);
      expect(take(h).names).toEqual(["social_account_updated", "pre_social_login", "user_logged_in"]);
      expect((await browser.request("GET", "auth/session")).body.data.user.id).toBe(mallory!.user_id);
      expect(await h.count("auth_user")).toBe(2);
      expect(await links(h)).toEqual([alice, mallory]);
    } finally {
      accounts["mallory"] = { email: "mallory@example.com", email_verified: true, preferred_username: "mallory" };
    }
    await h.close();
  });

  it("the same sub and verified address from another provider is another identity, never a login into the first", async () => {
    const second = { id: "otheridp", type: "openid_connect", name: "Other IdP", clientId, secret: clientSecret, serverUrl: other.issuer } as const;
    const h = await socialHarness(idp, base, { providers: [second] });
    expect(await socialRoundTrip(h, h.browser(), idp, "alice")).toBe(frontendCallback);
    h.takeSignals();
    const [first] = await links(h);
    const browser = h.browser();
    const authorization = await startRedirect(h, browser, { provider: "otheridp" });
    const back = await other.signIn(authorization.href, { account: "alice" });
    // Back to the frontend with the provider signup pending (the address is taken), not logged in.
    expect(locationOf(await visit(h, browser, back.pathname + back.search))).toBe(frontendCallback);
    expect(take(h).names).toEqual(["pre_social_login"]);
    expect((await browser.request("GET", "auth/session")).status).toBe(401);
    expect(await links(h)).toEqual([first]);
    // Finishing the provider signup with an address of its own makes a second user.
    const signed = await browser.request("POST", "auth/provider/signup", { email: "alice.other@example.com" });
    expect(signed.status).toBe(200);
    expect(take(h).names).toEqual(["user_signed_up", "email_confirmation_sent", "user_logged_in"]);
    const rows = await links(h);
    expect(rows.map((row) => [row.provider, row.uid])).toEqual([
      ["devidp", "alice"],
      ["otheridp", "alice"],
    ]);
    expect(rows[1]!.user_id).not.toBe(first!.user_id);
    await h.close();
  });
});

describe("connecting one identity from two users at once (CC-07)", () => {
  it("one link is made, the other connect is refused with connected_other", async () => {
    const h = await socialHarness(idp, { ...base, account: { loginMethods: ["email"], emailVerification: "none" } });
    const browsers = [h.browser(), h.browser()];
    for (const [i, browser] of browsers.entries()) {
      const email = `user${i}@example.com`;
      expect((await signup(h.browser(), { email })).status).toBe(200);
      expect((await login(browser, { email })).status).toBe(200);
    }
    h.takeSignals();
    const backs = await Promise.all(
      browsers.map(async (browser) => idp.signIn((await startRedirect(h, browser, { process: "connect" })).href, { account: "carol" })),
    );
    const answers = await Promise.all(browsers.map((browser, i) => visit(h, browser, backs[i]!.pathname + backs[i]!.search)));
    expect(answers.map(locationOf).sort()).toEqual([frontendCallback, `${frontendCallback}?error=connected_other&error_process=connect`].sort());
    const rows = await links(h);
    expect(rows.map((row) => [row.provider, row.uid])).toEqual([["devidp", "carol"]]);
    const winner = answers.findIndex((answer) => locationOf(answer) === frontendCallback);
    expect((await browsers[winner]!.request("GET", "auth/session")).body.data.user.id).toBe(rows[0]!.user_id);
    expect(h.takeSignals().filter((name) => name === "social_account_added")).toHaveLength(1);
    await h.close();
  });
});
