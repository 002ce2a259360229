/**
 * A social signup whose address is already taken, over a real OpenID provider: under optional
 * verification the provider signup form waits and refuses the taken address; under mandatory
 * verification the answer hides the clash (a normal pending verification, the owner mailed,
 * nobody created); and a closed signup.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import type { Client, Harness } from "../support/harness.ts";
import type { IdentityProvider } from "../support/oidc-provider.ts";
import { clientId, frontendCallback, providerToken, socialHarness, socialRoundTrip, startProvider } from "../support/social.ts";
import { expectPendingVerification, fastHasher, signup, take, userRows } from "./support.ts";

let idp: IdentityProvider;
beforeAll(async () => {
  idp = await startProvider();
});
afterAll(async () => {
  await idp.close();
});

const site = (emailVerification: "optional" | "mandatory"): Partial<AuthConfig> => ({
  account: { loginMethods: ["email"], emailVerification },
  passwordHasher: fastHasher,
});

/** Someone already signed up with alice's address, by password. */
async function aliceAddressTaken(h: Harness): Promise<string> {
  expect((await signup(h.browser(), { email: "alice@example.com" })).status).toBeLessThan(500);
  h.takeSignals();
  h.takeMails();
  return (await userRows(h))[0]!.id;
}

const emailTaken = {
  param: "email",
  code: "email_taken",
  message: "An account already exists with this email address. Please sign in to that account first, then connect your Dev IdP account.",
};

/** The pending form: shown with what the provider said, the taken address refused, a new one signing up. */
async function completeTheForm(h: Harness, client: Client): Promise<void> {
  const form = await client.request("GET", "auth/provider/signup");
  expect(form.status).toBe(200);
  expect(form.body.data).toEqual({
    user: { display: "alice@example.com", has_usable_password: false, email: "alice@example.com", username: "alice" },
    account: { uid: "alice", display: "alice@example.com", provider: expect.objectContaining({ id: "devidp", name: "Dev IdP", client_id: clientId }) },
    email: [{ email: "alice@example.com", primary: true, verified: true }],
  });
  const taken = await client.request("POST", "auth/provider/signup", { email: "alice@example.com" });
  expect(taken.status).toBe(400);
  expect(taken.body.errors).toEqual([emailTaken]);
  expect(h.takeSignals()).toEqual([]);
  expect(await h.count("auth_user")).toBe(1);
  const done = await client.request("POST", "auth/provider/signup", { email: "alice.l@example.com" });
  expect(done.status).toBe(200);
  expect(done.body.data.user.email).toBe("alice.l@example.com");
  const signals = take(h);
  expect(signals.names).toEqual(["user_signed_up", "email_confirmation_sent", "user_logged_in"]);
  expect(signals.one("user_signed_up").socialLogin).toMatchObject({ provider: "devidp", uid: "alice", isExisting: true });
  expect(h.takeMails().map((m) => m.to)).toEqual(["alice.l@example.com"]);
  expect(await h.query("SELECT uid FROM auth_social_account")).toEqual([{ uid: "alice" }]);
  expect((await client.request("GET", "auth/provider/signup")).status).toBe(409);
}

describe("the address is taken, optional verification (the provider signup form)", () => {
  it("browser: pre_social_login, the form waits; email_taken with the provider's name; a new address signs up", async () => {
    const h = await socialHarness(idp, site("optional"));
    await aliceAddressTaken(h);
    const browser = h.browser();
    expect(await socialRoundTrip(h, browser, idp, "alice")).toBe(frontendCallback);
    expect(take(h).names).toEqual(["pre_social_login"]);
    const session = await browser.request("GET", "auth/session");
    expect(session.status).toBe(401);
    expect(session.body.data.flows).toContainEqual(expect.objectContaining({ id: "provider_signup", is_pending: true }));
    await completeTheForm(h, browser);
    await h.close();
  });

  it("app token: 401 provider_signup pending, then the same form", async () => {
    const h = await socialHarness(idp, site("optional"));
    await aliceAddressTaken(h);
    const app = h.app();
    const res = await providerToken(app, idp, "alice");
    expect(res.status).toBe(401);
    expect(res.body.data.flows).toContainEqual(expect.objectContaining({ id: "provider_signup", is_pending: true }));
    expect(take(h).names).toEqual(["pre_social_login"]);
    await completeTheForm(h, app);
    await h.close();
  });
});

describe("the address is taken, mandatory verification (enumeration-safe)", () => {
  it("browser: back to the frontend as any signup, verify_email pending, the owner mailed, nobody created", async () => {
    const h = await socialHarness(idp, site("mandatory"));
    const owner = await aliceAddressTaken(h);
    const browser = h.browser();
    expect(await socialRoundTrip(h, browser, idp, "alice")).toBe(frontendCallback);
    expect(take(h).names).toEqual(["pre_social_login"]);
    expectPendingVerification(await browser.request("GET", "auth/session"));
    const mails = h.takeMails();
    expect(mails.map((m) => [m.to, m.subject])).toEqual([["alice@example.com", "[example.com] Account Already Exists"]]);
    expect((await userRows(h)).map((u) => u.id)).toEqual([owner]);
    expect(await h.count("auth_social_account")).toBe(0);
    await h.close();
  });

  it("app token: 401 verify_email pending, as a fresh signup would answer", async () => {
    const h = await socialHarness(idp, site("mandatory"));
    await aliceAddressTaken(h);
    const res = await providerToken(h.app(), idp, "alice");
    expectPendingVerification(res);
    expect(res.body.data.flows).not.toContainEqual(expect.objectContaining({ id: "provider_signup" }));
    expect(take(h).names).toEqual(["pre_social_login"]);
    expect(h.takeMails().map((m) => m.subject)).toEqual(["[example.com] Account Already Exists"]);
    expect(await h.count("auth_user")).toBe(1);
    expect(await h.count("auth_social_account")).toBe(0);
    // The same answer as a new person under mandatory verification whose address the provider did not verify.
    const fresh = await providerToken(h.app(), idp, "bob");
    expect(Object.keys(fresh.body.data)).toEqual(Object.keys(res.body.data));
    expect(fresh.body.data.flows).toEqual(res.body.data.flows);
    await h.close();
  });
});

describe("signup closed", () => {
  const closed: Partial<AuthConfig> = { ...site("optional"), adapter: { isOpenForSignup: () => false } };

  it("browser: a new person goes back with ?error=signup_closed, nobody created", async () => {
    const h = await socialHarness(idp, closed);
    const browser = h.browser();
    expect(await socialRoundTrip(h, browser, idp, "alice")).toBe(`${frontendCallback}?error=signup_closed&error_process=login`);
    expect(take(h).names).toEqual(["pre_social_login"]);
    expect(await h.count("auth_user")).toBe(0);
    expect(await h.count("auth_social_account")).toBe(0);
    expect((await browser.request("GET", "auth/session")).status).toBe(401);
    await h.close();
  });

  it("app token: 403, nobody created", async () => {
    const h = await socialHarness(idp, closed);
    const res = await providerToken(h.app(), idp, "alice");
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ status: 403 });
    expect(take(h).names).toEqual(["pre_social_login"]);
    expect(await h.count("auth_user")).toBe(0);
    await h.close();
  });
});
