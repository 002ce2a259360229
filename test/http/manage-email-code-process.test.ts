/**
 * Code mode, where `account/email` meets the verification process (allauth's
 * `EmailVerificationProcess`): every code mail takes from `confirm_email` and answers 429 when it
 * is spent, keeping nothing; `PUT account/email` of the pending address and
 * `auth/email/verify/resend` share one resend quota, counted on the flow row; and a signup that
 * changes its address keeps its process (start, attempts).
 */
import { TestContext } from "effect";
import { describe, expect, it } from "vitest";
import type { AccountConfig } from "../../src/config.ts";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { advance, emailRows, expectStatus, fastHasher, take } from "./support.ts";

const code: AccountConfig = { loginMethods: ["email"], emailVerification: "mandatory", emailVerificationByCodeEnabled: true };

async function open(account: AccountConfig) {
  return harness({ passwordHasher: fastHasher, account }, { layer: TestContext.TestContext });
}

async function verifiedMember(h: Harness, client: Client, email = "ann@example.com"): Promise<void> {
  expect((await client.request("POST", "auth/signup", { email, password: goodPassword })).status).toBe(401);
  expect((await client.request("POST", "auth/email/verify", { key: codeFromMail(h.takeMails()[0]!) })).status).toBe(200);
  take(h);
}

describe("code mail under confirm_email (1/10s/key): 429, nothing kept", () => {
  it("an add whose address was mailed a code less than 10 s ago", async () => {
    const h = await open(code);
    const client = h.app();
    await verifiedMember(h, client);
    expect((await client.request("POST", "account/email", { email: "new@example.com" })).status).toBe(200);
    take(h);
    h.takeMails();
    // Abandon it, and add it again at once: the address's limit is spent.
    expect((await client.request("DELETE", "account/email", { email: "new@example.com" })).status).toBe(200);
    expectStatus(await client.request("POST", "account/email", { email: "new@example.com" }), 429);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails()).toEqual([]);
    const list = await client.request("GET", "account/email");
    expect(list.body.data.map((a: { email: string }) => a.email)).toEqual(["ann@example.com"]);
    await advance(h, "11 seconds");
    expect((await client.request("POST", "account/email", { email: "new@example.com" })).status).toBe(200);
    expect(take(h).names).toEqual(["email_confirmation_sent"]);
    await h.close();
  });

  it("a resend of the pending address within 10 s: 429, and the quota is not used", async () => {
    const h = await open({ ...code, emailVerificationSupportsResend: 1 });
    const client = h.app();
    await verifiedMember(h, client);
    await client.request("POST", "account/email", { email: "new@example.com" });
    take(h);
    h.takeMails();
    expectStatus(await client.request("PUT", "account/email", { email: "new@example.com" }), 429);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails()).toEqual([]);
    await advance(h, "11 seconds");
    expectStatus(await client.request("PUT", "account/email", { email: "new@example.com" }), 200);
    expect(take(h).names).toEqual(["email_confirmation_sent"]);
    await h.close();
  });

  it("a member's code to an address they only claim (SECURITY.md EM-09) does not hold back its owner's signup", async () => {
    const h = await open(code);
    const member = h.app();
    await verifiedMember(h, member);
    await member.request("POST", "account/email", { email: "bob@example.com" });
    take(h);
    expect(h.takeMails().map((m) => m.to)).toEqual(["bob@example.com"]);
    const bob = h.browser();
    expect((await bob.request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword })).status).toBe(401);
    expect(take(h).names).toEqual(["user_signed_up", "email_confirmation_sent"]);
    expect(h.takeMails().map((m) => m.to)).toEqual(["bob@example.com"]);
    await h.close();
  });
});

describe("one resend quota per process, counted on the flow row", () => {
  it("PUT account/email and auth/email/verify/resend take from the same quota", async () => {
    const h = await open({ ...code, emailVerificationSupportsResend: 1 });
    const client = h.app();
    await verifiedMember(h, client);
    await client.request("POST", "account/email", { email: "new@example.com" });
    take(h);
    h.takeMails();
    await advance(h, "11 seconds");
    expectStatus(await client.request("POST", "auth/email/verify/resend"), 200);
    expect(h.takeMails().map((m) => m.to)).toEqual(["new@example.com"]);
    await advance(h, "11 seconds");
    expectStatus(await client.request("PUT", "account/email", { email: "new@example.com" }), 403);
    expect(h.takeMails()).toEqual([]);
    await h.close();
  });

  it("parallel PUTs never send more mails than the quota", async () => {
    const h = await open({ ...code, emailVerificationSupportsResend: 2, rateLimits: { confirmEmail: false, manageEmail: false } });
    const client = h.app();
    await verifiedMember(h, client);
    await client.request("POST", "account/email", { email: "new@example.com" });
    take(h);
    h.takeMails();
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => client.request("PUT", "account/email", { email: "new@example.com" })),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(2);
    expect(statuses.filter((s) => s !== 200 && s !== 403)).toEqual([]);
    expect(h.takeMails()).toHaveLength(2);
    expect(take(h).names).toEqual(["email_confirmation_sent", "email_confirmation_sent"]);
    await h.close();
  });
});

describe("changing the address during the signup stage keeps the process", () => {
  const changeable: AccountConfig = { ...code, emailVerificationSupportsChange: true };

  it("wrong codes before the change still count: the third wrong code ends the flow", async () => {
    const h = await open(changeable);
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    take(h);
    for (let i = 0; i < 2; i++) {
      expect((await client.request("POST", "auth/email/verify", { key: "WRONG-CODE" })).status).toBe(400);
    }
    await advance(h, "11 seconds");
    expect((await client.request("POST", "account/email", { email: "new@example.com" })).status).toBe(200);
    expect(take(h).names).toEqual(["email_confirmation_sent"]);
    const newCode = codeFromMail(h.takeMails()[0]!);
    expect((await client.request("POST", "auth/email/verify", { key: "WRONG-CODE" })).status).toBe(400);
    expectStatus(await client.request("POST", "auth/email/verify", { key: newCode }), 409);
    expect(take(h).names).toEqual([]);
    expect((await emailRows(h)).map((r) => [r.email, r.verified])).toEqual([["new@example.com", 0]]);
    await h.close();
  });

  it("the process times out from its start, not from the change", async () => {
    const h = await open({ ...changeable, emailVerificationByCodeTimeout: 60 });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    take(h);
    await advance(h, "40 seconds");
    expect((await client.request("POST", "account/email", { email: "new@example.com" })).status).toBe(200);
    const newCode = codeFromMail(h.takeMails()[0]!);
    take(h);
    await advance(h, "30 seconds");
    expectStatus(await client.request("POST", "auth/email/verify", { key: newCode }), 409);
    expect(take(h).names).toEqual([]);
    await h.close();
  });
});
