import { TestContext } from "effect";
import { describe, expect, it } from "vitest";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { advance, fastHasher, take } from "./support.ts";

const base = { loginMethods: ["email"] as const, emailVerification: "none" as const, loginByCodeEnabled: true };

async function account(h: Harness, verified: boolean): Promise<string> {
  const client = h.app();
  const response = await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
  if (verified) {
    await h.query("UPDATE auth_email_address SET verified = 1");
  }
  await client.request("DELETE", "auth/session");
  h.takeSignals();
  h.takeMails();
  return response.body.data?.user?.id as string;
}

describe("login by code", () => {
  it("for an unverified address: email_confirmed → user_logged_in, and the address is verified", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher });
    await account(h, false);
    const client = h.app();
    const requested = await client.request("POST", "auth/code/request", { email: "Ann@Example.com" });
    expect(requested.status).toBe(401);
    expect(requested.body.data.flows).toContainEqual({ id: "login_by_code", is_pending: true });
    expect(h.takeSignals()).toEqual([]);
    const [mail] = h.takeMails();
    expect([mail!.to, mail!.subject]).toEqual(["ann@example.com", "[example.com] Sign In Code"]);
    const confirmed = await client.request("POST", "auth/code/confirm", { code: codeFromMail(mail!).toLowerCase() });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.data.methods[0]).toMatchObject({ method: "code", email: "ann@example.com" });
    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmed", "user_logged_in"]);
    expect(signals.one("user_logged_in").request.user?.email).toBe("ann@example.com");
    const [row] = await h.query<{ verified: number }>("SELECT verified FROM auth_email_address");
    expect(row!.verified).toBe(1);
    await h.close();
  });

  it("for a verified address emits only user_logged_in", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher });
    await account(h, true);
    const client = h.browser();
    await client.request("POST", "auth/code/request", { email: "ann@example.com" });
    await client.request("POST", "auth/code/confirm", { code: codeFromMail(h.takeMails()[0]!) });
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
    await h.close();
  });

  it("answers an unknown address as a known one, mails an 'unknown account' notice and can never log in (EN-08)", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher });
    await account(h, true);
    const real = h.app();
    const fake = h.app();
    const a = await real.request("POST", "auth/code/request", { email: "ann@example.com" });
    const b = await fake.request("POST", "auth/code/request", { email: "nobody@example.com" });
    expect([b.status, b.body.data, Object.keys(b.body.meta).sort()]).toEqual([a.status, a.body.data, Object.keys(a.body.meta).sort()]);
    const mails = h.takeMails();
    expect(mails.map((m) => m.subject)).toEqual(["[example.com] Sign In Code", "[example.com] Unknown Account"]);
    // One code row, the known account's: the unknown address's flow has no code at all.
    const codes = await h.query<{ email: string }>("SELECT email FROM auth_verification WHERE purpose = 'login_code'");
    expect(codes.map((c) => c.email)).toEqual(["ann@example.com"]);
    const code = codeFromMail(mails[0]!);
    const wrongReal = await real.request("POST", "auth/code/confirm", { code: "BCDF-GHJK" });
    const guess = await fake.request("POST", "auth/code/confirm", { code });
    expect([guess.status, guess.body]).toEqual([wrongReal.status, wrongReal.body]);
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });

  it("refuses the right code on the fourth try after three wrong ones", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher });
    await account(h, true);
    const client = h.app();
    await client.request("POST", "auth/code/request", { email: "ann@example.com" });
    const code = codeFromMail(h.takeMails()[0]!);
    for (const wrong of ["BCDF-GHJK", "BCDF-GHJL", "BCDF-GHJM"]) {
      const response = await client.request("POST", "auth/code/confirm", { code: wrong });
      expect(response.status).toBe(400);
      expect(response.body.errors[0]).toMatchObject({ code: "incorrect_code", param: "code" });
    }
    const late = await client.request("POST", "auth/code/confirm", { code });
    expect(late.status).toBe(409);
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });

  it("expires the code after 180 seconds", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher }, { layer: TestContext.TestContext });
    await account(h, true);
    const client = h.app();
    await client.request("POST", "auth/code/request", { email: "ann@example.com" });
    const code = codeFromMail(h.takeMails()[0]!);
    await advance(h, "181 seconds");
    const late = await client.request("POST", "auth/code/confirm", { code });
    // allauth: a timed-out process is no process (409), and the stage is over.
    expect(late.status).toBe(409);
    expect((await client.request("GET", "auth/session")).body.data.flows).not.toContainEqual({ id: "login_by_code", is_pending: true });
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });

  it("re-sends a new code when supported, and the old one dies", async () => {
    const h = await harness({ account: { ...base, loginByCodeSupportsResend: true }, passwordHasher: fastHasher });
    await account(h, true);
    const client = h.app();
    await client.request("POST", "auth/code/request", { email: "ann@example.com" });
    const first = codeFromMail(h.takeMails()[0]!);
    expect((await client.request("POST", "auth/code/resend")).status).toBe(200);
    const second = codeFromMail(h.takeMails()[0]!);
    expect(second).not.toBe(first);
    expect((await client.request("POST", "auth/code/confirm", { code: first })).status).toBe(400);
    expect((await client.request("POST", "auth/code/confirm", { code: second })).status).toBe(200);
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
    await h.close();
  });

  it("rate-limits code requests per address: the fourth in a minute answers 400 too_many_login_attempts", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher });
    await account(h, true);
    const statuses: Array<number> = [];
    let last = null;
    for (let i = 0; i < 4; i++) {
      last = await h.app().request("POST", "auth/code/request", { email: "ann@example.com" });
      statuses.push(last.status);
    }
    // allauth answers this limit as a form error on `email`, not 429.
    expect(statuses).toEqual([401, 401, 401, 400]);
    expect(last!.body.errors).toEqual([
      { code: "too_many_login_attempts", param: "email", message: "Too many failed login attempts. Try again later." },
    ]);
    expect(h.takeMails()).toHaveLength(3);
    await h.close();
  });

  it("is not routed (404) when login by code is off (ALLAUTH-ERRORS §0)", async () => {
    const h = await harness({ account: { ...base, loginByCodeEnabled: false }, passwordHasher: fastHasher });
    expect((await h.app().request("POST", "auth/code/request", { email: "ann@example.com" })).status).toBe(404);
    expect((await h.app().request("POST", "auth/code/confirm", { code: "BCDF-GHJK" })).status).toBe(404);
    expect((await h.app().request("POST", "auth/code/resend")).status).toBe(404);
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });
});

describe("login code required as a second step (loginByCodeRequired)", () => {
  const required = { loginMethods: ["email"] as const, emailVerification: "none" as const, loginByCodeRequired: true };

  it("stops a signup after user_signed_up at the code; user_logged_in only after it", async () => {
    const h = await harness({ account: required, passwordHasher: fastHasher });
    const client = h.browser();
    const signedUp = await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(signedUp.status).toBe(401);
    expect(signedUp.body.data.flows).toContainEqual({ id: "login_by_code", is_pending: true });
    expect(h.takeSignals()).toEqual(["user_signed_up"]);
    const code = codeFromMail(h.takeMails()[0]!);
    const confirmed = await client.request("POST", "auth/code/confirm", { code });
    expect(confirmed.status).toBe(200);
    expect(h.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
    await h.close();
  });

  it("asks a password login for a code before user_logged_in", async () => {
    const h = await harness({ account: { ...required, loginByCodeRequired: ["password"] }, passwordHasher: fastHasher });
    const signup = h.app();
    await signup.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    await signup.request("POST", "auth/code/confirm", { code: codeFromMail(h.takeMails()[0]!) });
    await signup.request("DELETE", "auth/session");
    h.takeSignals();
    const client = h.app();
    const login = await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(login.status).toBe(401);
    expect(h.takeSignals()).toEqual([]);
    const confirmed = await client.request("POST", "auth/code/confirm", { code: codeFromMail(h.takeMails()[0]!) });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.data.methods[0]).toMatchObject({ method: "password" });
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
    await h.close();
  });
});
