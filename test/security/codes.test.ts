/**
 * Mailed codes are bound to the flow that asked for them, and their attempts are counted per flow
 * across resends (SECURITY.md TK-06, TH-08): a code mailed to one session's login is a wrong code
 * in another session's login (and counts there), a newer login flow for the same address ends the
 * older one, and a resend gives a new code but not new attempts: two wrong codes, a resend and one more wrong code end the flow.
 */
import { TestContext } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Client, ClientResponse, Harness } from "../support/harness.ts";
import { advance, fastHasher, take } from "../http/support.ts";

const wrong = ["BCDF-GHJK", "BCDF-GHJL", "BCDF-GHJM"];

let h: Harness;

afterEach(async () => {
  await h?.close();
});

async function open(account: AuthConfig["account"]): Promise<Harness> {
  h = await harness({ passwordHasher: fastHasher, account: { loginMethods: ["email"], ...account } }, { layer: TestContext.TestContext });
  return h;
}

async function verifiedAccount(email = "ann@example.com"): Promise<void> {
  const client = h.app();
  expect((await client.request("POST", "auth/signup", { email, password: goodPassword })).status).toBe(200);
  await h.query("UPDATE auth_email_address SET verified = 1 WHERE email = ?", email);
  await client.request("DELETE", "auth/session");
  h.takeSignals();
  h.takeMails();
}

function onlyCode(): string {
  const mails = h.takeMails();
  expect(mails).toHaveLength(1);
  return codeFromMail(mails[0]!);
}

function expectIncorrect(res: ClientResponse, param: "code" | "key"): void {
  expect(res.status).toBe(400);
  expect(res.body.errors).toEqual([expect.objectContaining({ param, code: "incorrect_code" })]);
}

async function loggedInSessions(): Promise<number> {
  const [row] = await h.query<{ n: number }>("SELECT COUNT(*) AS n FROM auth_session WHERE user_id IS NOT NULL");
  return Number(row!.n);
}

async function expectNobody(client: Client): Promise<void> {
  const session = await client.request("GET", "auth/session");
  expect([session.status, session.body.meta.is_authenticated]).toEqual([401, false]);
}

describe("a code belongs to the flow it was mailed for (TK-06)", () => {
  it("A's live login code is refused in any other session: one without a flow (409), one with its own flow (incorrect, counted)", async () => {
    await open({ emailVerification: "none", loginByCodeEnabled: true });
    await verifiedAccount("ann@example.com");
    await verifiedAccount("bob@example.com");
    const a = h.app();
    const b = h.browser();
    expect((await a.request("POST", "auth/code/request", { email: "ann@example.com" })).status).toBe(401);
    const codeA = onlyCode();
    expect((await b.request("POST", "auth/code/confirm", { code: codeA })).status).toBe(409);
    expect((await b.request("POST", "auth/code/request", { email: "bob@example.com" })).status).toBe(401);
    onlyCode();

    expectIncorrect(await b.request("POST", "auth/code/confirm", { code: codeA }), "code");
    expectIncorrect(await b.request("POST", "auth/code/confirm", { code: wrong[0] }), "code");
    // The third attempt in B's flow (A's code was the first) ends it.
    expectIncorrect(await b.request("POST", "auth/code/confirm", { code: wrong[1] }), "code");
    expect((await b.request("POST", "auth/code/confirm", { code: codeA })).status).toBe(409);
    await expectNobody(b);
    expect(take(h).names).toEqual([]);

    // A's own flow is untouched by what B tried.
    const logged = await a.request("POST", "auth/code/confirm", { code: codeA });
    expect([logged.status, logged.body.data.user.email]).toEqual([200, "ann@example.com"]);
    expect(take(h).names).toEqual(["user_logged_in"]);
    expect(await loggedInSessions()).toBe(1);
  });

  it("for the same address, a newer flow ends the older one: A's code then logs in nobody, in A's flow or in B's", async () => {
    await open({ emailVerification: "none", loginByCodeEnabled: true });
    await verifiedAccount("ann@example.com");
    const a = h.app();
    const b = h.browser();
    expect((await a.request("POST", "auth/code/request", { email: "ann@example.com" })).status).toBe(401);
    const codeA = onlyCode();
    expect((await b.request("POST", "auth/code/request", { email: "ann@example.com" })).status).toBe(401);
    const codeB = onlyCode();
    expectIncorrect(await b.request("POST", "auth/code/confirm", { code: codeA }), "code");
    expect((await a.request("POST", "auth/code/confirm", { code: codeA })).status).toBe(409);
    await expectNobody(a);
    expect(take(h).names).toEqual([]);
    expect((await b.request("POST", "auth/code/confirm", { code: codeB })).status).toBe(200);
    expect(take(h).names).toEqual(["user_logged_in"]);
  });
});

describe("a resend does not reset the attempts (TH-08)", () => {
  it("login by code: 2 wrong, resend, 1 wrong ends the flow; the new code is then refused and nobody is logged in", async () => {
    await open({ emailVerification: "none", loginByCodeEnabled: true, loginByCodeSupportsResend: true });
    await verifiedAccount();
    const client = h.app();
    expect((await client.request("POST", "auth/code/request", { email: "ann@example.com" })).status).toBe(401);
    onlyCode();
    expectIncorrect(await client.request("POST", "auth/code/confirm", { code: wrong[0] }), "code");
    expectIncorrect(await client.request("POST", "auth/code/confirm", { code: wrong[1] }), "code");
    await advance(h, "11 seconds");
    expect((await client.request("POST", "auth/code/resend")).status).toBe(200);
    const fresh = onlyCode();
    expectIncorrect(await client.request("POST", "auth/code/confirm", { code: wrong[2] }), "code");
    expect((await client.request("POST", "auth/code/confirm", { code: fresh })).status).toBe(409);
    await expectNobody(client);
    expect(take(h).names).toEqual([]);
    expect(await loggedInSessions()).toBe(0);
  });

  it("email verification by code: 2 wrong, resend, 1 wrong ends the flow; the new code verifies nothing", async () => {
    await open({ emailVerification: "mandatory", emailVerificationByCodeEnabled: true, emailVerificationSupportsResend: true });
    const client = h.app();
    expect((await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(401);
    onlyCode();
    expect(take(h).names).toEqual(["user_signed_up", "email_confirmation_sent"]);
    expectIncorrect(await client.request("POST", "auth/email/verify", { key: wrong[0] }), "key");
    expectIncorrect(await client.request("POST", "auth/email/verify", { key: wrong[1] }), "key");
    await advance(h, "11 seconds");
    expect((await client.request("POST", "auth/email/verify/resend")).status).toBe(200);
    const fresh = onlyCode();
    expect(take(h).names).toEqual(["email_confirmation_sent"]);
    expectIncorrect(await client.request("POST", "auth/email/verify", { key: wrong[2] }), "key");
    expect((await client.request("POST", "auth/email/verify", { key: fresh })).status).toBe(409);
    await expectNobody(client);
    expect(take(h).names).toEqual([]);
    const [row] = await h.query<{ verified: number }>("SELECT verified FROM auth_email_address");
    expect(Number(row!.verified)).toBe(0);
  });
});
