/**
 * `account/email` in code mode and the removal / primary rules (ALLAUTH-ERRORS §16): the pending
 * address of an add is listed unsaved, replaced by a second add, removed without a signal and
 * never made primary; a signup waiting for its code may change its address
 * (`emailVerificationSupportsChange`); `cannot_remove_primary_email` in its three cases.
 */
import { TestContext } from "effect";
import { describe, expect, it } from "vitest";
import type { AccountConfig } from "../../src/config.ts";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { advance, emailRows, expectErrors, expectStatus, fastHasher, take } from "./support.ts";

const code: AccountConfig = { loginMethods: ["email"], emailVerification: "mandatory", emailVerificationByCodeEnabled: true };

async function open(account: AccountConfig) {
  return harness({ passwordHasher: fastHasher, account }, { layer: TestContext.TestContext });
}

/** ann@ signed up and verified by code, logged in on `client`. */
async function verifiedMember(h: Harness, client: Client): Promise<void> {
  expect((await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(401);
  expect((await client.request("POST", "auth/email/verify", { key: codeFromMail(h.takeMails()[0]!) })).status).toBe(200);
  take(h);
}

const addresses = (res: { body: any }) => res.body.data as Array<{ email: string; verified: boolean; primary: boolean }>;

describe("account/email in code mode, logged in", () => {
  it("an add is listed unsaved until its code; a second add replaces it and the first code dies", async () => {
    const h = await open(code);
    const client = h.app();
    await verifiedMember(h, client);

    const first = await client.request("POST", "account/email", { email: "new@example.com" });
    expect(first.status).toBe(200);
    expect(addresses(first)).toEqual([
      { email: "ann@example.com", verified: true, primary: true },
      { email: "new@example.com", verified: false, primary: false },
    ]);
    expect(take(h).names).toEqual(["email_confirmation_sent"]);
    expect((await emailRows(h)).map((r) => r.email)).toEqual(["ann@example.com"]);
    const firstCode = codeFromMail(h.takeMails()[0]!);
    expect(addresses(await client.request("GET", "account/email"))).toEqual(addresses(first));

    await advance(h, "20 seconds");
    const second = await client.request("POST", "account/email", { email: "other@example.com" });
    expect(addresses(second)).toEqual([
      { email: "ann@example.com", verified: true, primary: true },
      { email: "other@example.com", verified: false, primary: false },
    ]);
    expect(take(h).names).toEqual(["email_confirmation_sent"]);
    const secondCode = codeFromMail(h.takeMails()[0]!);

    const stale = await client.request("POST", "auth/email/verify", { key: firstCode });
    expect(stale.status).toBe(400);
    expect(take(h).names).toEqual([]);
    const ok = await client.request("POST", "auth/email/verify", { key: secondCode });
    expect(ok.status).toBe(200);
    expect(take(h).names).toEqual(["email_added", "email_confirmed"]);
    expect((await emailRows(h)).map((r) => [r.email, r.verified])).toEqual([
      ["ann@example.com", 1],
      ["other@example.com", 1],
    ]);
    await h.close();
  });

  it("removing the pending address abandons the add: no signal, no reauthentication, its code is dead", async () => {
    const h = await open({ ...code, reauthenticationRequired: true });
    const client = h.app();
    await verifiedMember(h, client);
    await client.request("DELETE", "auth/session");
    client.token = null;
    await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    await client.request("POST", "account/email", { email: "new@example.com" });
    const theCode = codeFromMail(h.takeMails()[0]!);
    take(h);
    await advance(h, "400 seconds");

    const removed = await client.request("DELETE", "account/email", { email: "New@Example.com" });
    expect(removed.status).toBe(200);
    expect(addresses(removed)).toEqual([{ email: "ann@example.com", verified: true, primary: true }]);
    expect(take(h).names).toEqual([]);
    expectStatus(await client.request("POST", "auth/email/verify", { key: theCode }), 409);
    expect((await emailRows(h)).map((r) => r.email)).toEqual(["ann@example.com"]);
    // A stored address still asks for reauthentication, once its input checks pass (the only
    // address cannot be removed: a 400 before the 401).
    expect((await client.request("DELETE", "account/email", { email: "ann@example.com" })).status).toBe(400);
    expect((await client.request("PATCH", "account/email", { email: "ann@example.com", primary: true })).status).toBe(401);
    await h.close();
  });

  it("the pending address cannot be made primary, and PUT without resends answers 403 and sends nothing", async () => {
    const h = await open(code);
    const client = h.browser();
    await verifiedMember(h, client);
    await client.request("POST", "account/email", { email: "new@example.com" });
    take(h);
    h.takeMails();
    expectErrors(await client.request("PATCH", "account/email", { email: "new@example.com", primary: true }), [
      { param: "email", code: "unverified_primary_email" },
    ]);
    expectStatus(await client.request("PUT", "account/email", { email: "new@example.com" }), 403);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails()).toEqual([]);
    await h.close();
  });
});

describe("PUT account/email for the pending address with resends allowed", () => {
  it("sends a new code (the old one dies), then 403 once the quota is used", async () => {
    const h = await open({ ...code, emailVerificationSupportsResend: 1 });
    const client = h.app();
    await verifiedMember(h, client);
    await client.request("POST", "account/email", { email: "new@example.com" });
    const firstCode = codeFromMail(h.takeMails()[0]!);
    take(h);
    await advance(h, "11 seconds");
    expectStatus(await client.request("PUT", "account/email", { email: "new@example.com" }), 200);
    const mails = h.takeMails();
    expect(mails.map((m) => m.to)).toEqual(["new@example.com"]);
    expect(codeFromMail(mails[0]!)).not.toBe(firstCode);
    expect(take(h).names).toEqual(["email_confirmation_sent"]);
    await advance(h, "11 seconds");
    expectStatus(await client.request("PUT", "account/email", { email: "new@example.com" }), 403);
    expect(h.takeMails()).toEqual([]);
    expect(take(h).names).toEqual([]);
    expect((await client.request("POST", "auth/email/verify", { key: firstCode })).status).toBe(400);
    const ok = await client.request("POST", "auth/email/verify", { key: codeFromMail(mails[0]!) });
    expect(ok.status).toBe(200);
    expect(take(h).names).toEqual(["email_added", "email_confirmed"]);
    await h.close();
  });
});

describe("changing the address while a signup waits for its code", () => {
  it("is refused with 409 by default (emailVerificationSupportsChange false), writing nothing", async () => {
    const h = await open(code);
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    take(h);
    h.takeMails();
    expectStatus(await client.request("POST", "account/email", { email: "new@example.com" }), 409);
    expectStatus(await h.app().request("POST", "account/email", { email: "new@example.com" }), 409);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails()).toEqual([]);
    expect((await emailRows(h)).map((r) => r.email)).toEqual(["ann@example.com"]);
    await h.close();
  });

  it("moves the signup to the new address: a new code there, the old one dead, and the new one logs in", async () => {
    const h = await open({ ...code, emailVerificationSupportsChange: 1 });
    const client = h.browser();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    const oldCode = codeFromMail(h.takeMails()[0]!);
    take(h);

    expectErrors(await client.request("POST", "account/email", { email: "ann@example.com" }), [
      { param: "email", code: "same_as_current" },
    ]);
    expectErrors(await client.request("POST", "account/email", { email: "not an address" }), [
      { param: "email", code: "invalid" },
    ]);
    expect(take(h).names).toEqual([]);

    const changed = await client.request("POST", "account/email", { email: "new@example.com" });
    expect(changed.status).toBe(200);
    expect(addresses(changed)).toEqual([{ email: "new@example.com", verified: false, primary: false }]);
    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmation_sent"]);
    expect(signals.one("email_confirmation_sent").signup).toBe(true);
    const [mail] = h.takeMails();
    expect(mail!.to).toBe("new@example.com");
    const [user] = await h.query<{ email: string }>("SELECT email FROM auth_user");
    expect(user!.email).toBe("new@example.com");

    // The quota (1) is used up.
    expectStatus(await client.request("POST", "account/email", { email: "third@example.com" }), 409);

    expect((await client.request("POST", "auth/email/verify", { key: oldCode })).status).toBe(400);
    const verified = await client.request("POST", "auth/email/verify", { key: codeFromMail(mail!) });
    expect(verified.status).toBe(200);
    expect(verified.body.data.user.email).toBe("new@example.com");
    expect(take(h).names).toEqual(["email_confirmed", "user_logged_in"]);
    expect((await emailRows(h)).map((r) => [r.email, r.verified, r.is_primary])).toEqual([["new@example.com", 1, 1]]);
    await h.close();
  });

  it("refuses an address another account holds (email_taken) when enumeration prevention is off", async () => {
    const h = await open({ ...code, emailVerificationSupportsChange: true, preventEnumeration: false });
    await h.app().request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    take(h);
    h.takeMails();
    expectErrors(await client.request("POST", "account/email", { email: "bob@example.com" }), [
      { param: "email", code: "email_taken" },
    ]);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails()).toEqual([]);
    // A refused change uses no quota.
    expect((await client.request("POST", "account/email", { email: "new@example.com" })).status).toBe(200);
    expect(take(h).names).toEqual(["email_confirmation_sent"]);
    await h.close();
  });

  it("hides a taken address behind enumeration prevention: 200, an 'already exists' mail, nothing stored", async () => {
    const h = await open({ ...code, emailVerificationSupportsChange: true });
    await h.app().request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    const oldCode = codeFromMail(h.takeMails().at(-1)!);
    take(h);
    h.takeMails();
    // bob's own code mail took `confirm_email` (1/10s/key), and the hidden mail takes it too.
    expectStatus(await client.request("POST", "account/email", { email: "bob@example.com" }), 429);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails()).toEqual([]);
    await advance(h, "11 seconds");
    const res = await client.request("POST", "account/email", { email: "bob@example.com" });
    expect(res.status).toBe(200);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails().map((m) => [m.to, m.subject])).toEqual([["bob@example.com", "[example.com] Account Already Exists"]]);
    expect((await emailRows(h)).map((r) => r.email)).toEqual(["ann@example.com", "bob@example.com"]);
    expect((await client.request("POST", "auth/email/verify", { key: oldCode })).status).toBe(400);
    await h.close();
  });
});

describe("DELETE account/email: cannot_remove_primary_email", () => {
  const linkMode: AccountConfig = { loginMethods: ["email"], emailVerification: "none" };

  it("refuses the primary while another address exists, the only primary, and a non-primary only address", async () => {
    const h = await open(linkMode);
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    await client.request("POST", "account/email", { email: "bob@example.com" });
    take(h);
    const refused = [{ param: "email", code: "cannot_remove_primary_email" }];
    expectErrors(await client.request("DELETE", "account/email", { email: "ann@example.com" }), refused);
    expect((await client.request("DELETE", "account/email", { email: "bob@example.com" })).status).toBe(200);
    expect(take(h).names).toEqual(["email_removed"]);
    expectErrors(await client.request("DELETE", "account/email", { email: "ann@example.com" }), refused);
    await h.query("UPDATE auth_email_address SET is_primary = 0");
    expectErrors(await client.request("DELETE", "account/email", { email: "ann@example.com" }), refused);
    expect(take(h).names).toEqual([]);
    expect((await emailRows(h)).map((r) => r.email)).toEqual(["ann@example.com"]);
    await h.close();
  });

  it("with username login the only address may go", async () => {
    const h = await open({ loginMethods: ["username"], emailVerification: "none", signupFields: ["username*", "email", "password1*"] });
    const client = h.app();
    await client.request("POST", "auth/signup", { username: "carol", email: "carol@example.com", password: goodPassword });
    take(h);
    const res = await client.request("DELETE", "account/email", { email: "carol@example.com" });
    expect(res.status).toBe(200);
    expect(addresses(res)).toEqual([]);
    expect(take(h).names).toEqual(["email_removed"]);
    await h.close();
  });
});

describe("an address that is not the user's", () => {
  it("answers unknown_email with the headless adapter's text on DELETE, PUT and PATCH", async () => {
    const h = await open({ loginMethods: ["email"], emailVerification: "none" });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    await h.app().request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword });
    take(h);
    for (const [method, body] of [
      ["DELETE", { email: "bob@example.com" }],
      ["PUT", { email: "nobody@example.com" }],
      ["PATCH", { email: "bob@example.com", primary: true }],
    ] as const) {
      const res = await client.request(method, "account/email", body);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ param: "email", code: "unknown_email", message: "Unknown email address." }]);
    }
    expect(take(h).names).toEqual([]);
    expect((await emailRows(h)).length).toBe(2);
    await h.close();
  });
});

describe("PATCH account/email: unverified_primary_email", () => {
  it("refuses an unverified target while a verified address exists, allows it when none is verified", async () => {
    const h = await open({ loginMethods: ["email"], emailVerification: "none" });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    await client.request("POST", "account/email", { email: "bob@example.com" });
    take(h);
    await h.query("UPDATE auth_email_address SET verified = 1 WHERE email = 'ann@example.com'");
    expectErrors(await client.request("PATCH", "account/email", { email: "bob@example.com", primary: true }), [
      { param: "email", code: "unverified_primary_email" },
    ]);
    expect(take(h).names).toEqual([]);
    await h.query("UPDATE auth_email_address SET verified = 0");
    const res = await client.request("PATCH", "account/email", { email: "bob@example.com", primary: true });
    expect(res.status).toBe(200);
    expect(addresses(res)).toEqual([
      { email: "bob@example.com", verified: false, primary: true },
      { email: "ann@example.com", verified: false, primary: false },
    ]);
    expect(take(h).names).toEqual(["email_changed"]);
    await h.close();
  });
});
