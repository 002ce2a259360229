import { SqlClient } from "@effect/sql";
import { Effect, TestContext } from "effect";
import { describe, expect, it } from "vitest";
import { codeFromMail, goodPassword, harness, keyFromMail } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { advance, emailRows, fastHasher, take } from "./support.ts";

const base = { loginMethods: ["email"] as const, emailVerification: "none" as const };

async function signedUp(h: Harness, client: Client, email = "ann@example.com"): Promise<void> {
  expect((await client.request("POST", "auth/signup", { email, password: goodPassword })).status).toBe(200);
  h.takeSignals();
  h.takeMails();
}

const list = (body: any) => (body.data as Array<{ email: string; primary: boolean; verified: boolean }>).map((a) => [a.email, a.primary, a.verified]);

describe("account/email", () => {
  it("adds an address by link: email_confirmation_sent(signup=false) then email_added; the link verifies it", async () => {
    const h = await harness({ account: base });
    const client = h.browser();
    await signedUp(h, client);
    const added = await client.request("POST", "account/email", { email: "Second@Example.com" });
    expect(added.status).toBe(200);
    expect(list(added.body)).toEqual([
      ["ann@example.com", true, false],
      ["second@example.com", false, false],
    ]);
    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmation_sent", "email_added"]);
    expect(signals.one("email_confirmation_sent").signup).toBe(false);
    expect(signals.one("email_added").emailAddress).toMatchObject({ email: "second@example.com", verified: false, primary: false });
    const [mail] = h.takeMails();
    expect(mail!.to).toBe("second@example.com");

    const confirmed = await client.request("POST", "auth/email/verify", { key: keyFromMail(mail!) });
    expect(confirmed.status).toBe(200);
    const after = take(h);
    expect(after.names).toEqual(["email_confirmed"]);
    expect(after.one("email_confirmed").emailAddress).toMatchObject({ email: "second@example.com", verified: true, primary: false });
    await h.close();
  });

  it("marks a verified address primary with email_changed(from old, to new); re-selecting emits from = to", async () => {
    const h = await harness({ account: base });
    const client = h.browser();
    await signedUp(h, client);
    await client.request("POST", "account/email", { email: "second@example.com" });
    await client.request("POST", "auth/email/verify", { key: keyFromMail(h.takeMails()[0]!) });
    h.takeSignals();

    const first = await client.request("PATCH", "account/email", { email: "second@example.com", primary: true });
    expect(first.status).toBe(200);
    expect(list(first.body)).toEqual([
      ["second@example.com", true, true],
      ["ann@example.com", false, false],
    ]);
    let signals = take(h);
    expect(signals.names).toEqual(["email_changed"]);
    expect(signals.one("email_changed").fromEmailAddress?.email).toBe("ann@example.com");
    expect(signals.one("email_changed").toEmailAddress.email).toBe("second@example.com");
    expect((await client.request("GET", "auth/session")).body.data.user.email).toBe("second@example.com");

    await client.request("PATCH", "account/email", { email: "second@example.com", primary: true });
    signals = take(h);
    expect(signals.names).toEqual(["email_changed"]);
    expect(signals.one("email_changed").fromEmailAddress?.email).toBe("second@example.com");
    expect(signals.one("email_changed").toEmailAddress.email).toBe("second@example.com");
    await h.close();
  });

  it("refuses an unverified primary while a verified address exists, and writes nothing (EM-10)", async () => {
    const h = await harness({ account: base });
    const client = h.browser();
    await signedUp(h, client);
    await h.query("UPDATE auth_email_address SET verified = 1");
    await client.request("POST", "account/email", { email: "second@example.com" });
    h.takeSignals();
    const before = await emailRows(h);
    const response = await client.request("PATCH", "account/email", { email: "second@example.com", primary: true });
    expect(response.status).toBe(400);
    expect(response.body.errors[0]).toMatchObject({ code: "unverified_primary_email", param: "email" });
    expect(h.takeSignals()).toEqual([]);
    expect(await emailRows(h)).toEqual(before);
    await h.close();
  });

  it("removes a secondary address with email_removed after the row is gone; never the primary while others exist (EM-10)", async () => {
    const h = await harness({ account: { ...base, emailNotifications: true } });
    const client = h.browser();
    await signedUp(h, client);
    await client.request("POST", "account/email", { email: "second@example.com" });
    h.takeSignals();
    h.takeMails();
    const primary = await client.request("DELETE", "account/email", { email: "ann@example.com" });
    expect(primary.status).toBe(400);
    expect(primary.body.errors[0]).toMatchObject({ code: "cannot_remove_primary_email" });
    expect(h.takeSignals()).toEqual([]);

    let rowsAtSignal: number | null = null;
    h.auth.signals.on("email_removed", async ({ run }) => {
      const rows = await run(Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ email: string }>`SELECT email FROM auth_email_address`));
      rowsAtSignal = rows.length;
    });
    const removed = await client.request("DELETE", "account/email", { email: "second@example.com" });
    expect(removed.status).toBe(200);
    expect(list(removed.body)).toEqual([["ann@example.com", true, false]]);
    const signals = take(h);
    expect(signals.names).toEqual(["email_removed"]);
    expect(signals.one("email_removed").emailAddress.email).toBe("second@example.com");
    expect(rowsAtSignal).toBe(1);
    // allauth mails the primary address, naming the removed one.
    const mails = h.takeMails();
    expect(mails.map((m) => [m.to, m.subject])).toEqual([["ann@example.com", "[example.com] Email Removed"]]);
    expect(mails[0]!.text).toContain("second@example.com");
    await h.close();
  });

  it("keeps the last address when email is the only login method", async () => {
    const h = await harness({ account: base });
    const client = h.browser();
    await signedUp(h, client);
    const response = await client.request("DELETE", "account/email", { email: "ann@example.com" });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([
      { param: "email", code: "cannot_remove_primary_email", message: "You cannot remove your primary email address." },
    ]);
    expect((await emailRows(h)).length).toBe(1);
    await h.close();
  });

  it("enforces maxEmailAddresses (EM-12)", async () => {
    const h = await harness({ account: { ...base, maxEmailAddresses: 2 } });
    const client = h.browser();
    await signedUp(h, client);
    expect((await client.request("POST", "account/email", { email: "b@example.com" })).status).toBe(200);
    const third = await client.request("POST", "account/email", { email: "c@example.com" });
    expect(third.status).toBe(400);
    expect(third.body.errors[0]).toMatchObject({ code: "max_email_addresses", param: "email" });
    expect((await emailRows(h)).length).toBe(2);
    await h.close();
  });

  it("in code mode stores nothing until the code: email_confirmation_sent, then email_added → email_confirmed", async () => {
    // Verification by code needs mandatory verification (allauth's start-up check).
    const h = await harness({ account: { ...base, emailVerification: "mandatory", emailVerificationByCodeEnabled: true } });
    const client = h.app();
    expect((await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(401);
    expect((await client.request("POST", "auth/email/verify", { key: codeFromMail(h.takeMails()[0]!) })).status).toBe(200);
    h.takeSignals();
    const added = await client.request("POST", "account/email", { email: "second@example.com" });
    expect(added.status).toBe(200);
    // The pending address is listed, unsaved (allauth's `list_email_addresses`).
    expect(list(added.body)).toEqual([
      ["ann@example.com", true, true],
      ["second@example.com", false, false],
    ]);
    expect(take(h).names).toEqual(["email_confirmation_sent"]);
    expect((await emailRows(h)).length).toBe(1);
    const code = codeFromMail(h.takeMails()[0]!);
    const confirmed = await client.request("POST", "auth/email/verify", { key: code });
    expect(confirmed.status).toBe(200);
    const signals = take(h);
    expect(signals.names).toEqual(["email_added", "email_confirmed"]);
    expect(signals.one("email_added").emailAddress.email).toBe("second@example.com");
    expect((await emailRows(h)).map((r) => [r.email, r.verified])).toEqual(
      expect.arrayContaining([["second@example.com", 1]]),
    );
    await h.close();
  });

  it("in changeEmail mode: a verified new address replaces the old one silently and emits email_changed", async () => {
    const h = await harness({ account: { ...base, changeEmail: true, emailNotifications: true } });
    const client = h.browser();
    await signedUp(h, client);
    await h.query("UPDATE auth_email_address SET verified = 1");
    await client.request("POST", "account/email", { email: "new@example.com" });
    expect(take(h).names).toEqual(["email_confirmation_sent", "email_added"]);
    const key = keyFromMail(h.takeMails()[0]!);
    await client.request("POST", "auth/email/verify", { key });
    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmed", "email_changed"]);
    expect(signals.one("email_changed").fromEmailAddress?.email).toBe("ann@example.com");
    expect((await emailRows(h)).map((r) => [r.email, r.is_primary, r.verified])).toEqual([["new@example.com", 1, 1]]);
    expect(h.takeMails().map((m) => [m.to, m.subject])).toEqual([["ann@example.com", "[example.com] Email Changed"]]);
    await h.close();
  });

  it("re-sends a verification (PUT) under the cooldown: 200 with a mail, then 403 without", async () => {
    const h = await harness({ account: base }, { layer: TestContext.TestContext });
    const client = h.browser();
    await signedUp(h, client);
    const first = await client.request("PUT", "account/email", { email: "ann@example.com" });
    expect(first.status).toBe(200);
    expect(take(h).names).toEqual(["email_confirmation_sent"]);
    expect(h.takeMails()).toHaveLength(1);
    const second = await client.request("PUT", "account/email", { email: "ann@example.com" });
    expect(second.status).toBe(403);
    expect(h.takeSignals()).toEqual([]);
    expect(h.takeMails()).toHaveLength(0);
    await advance(h, "181 seconds");
    expect((await client.request("PUT", "account/email", { email: "ann@example.com" })).status).toBe(200);
    await h.close();
  });

  it("answers 401 to an anonymous session", async () => {
    const h = await harness({ account: base });
    expect((await h.browser().request("GET", "account/email")).status).toBe(401);
    // An anonymous POST is a change of a pending signup's address: none here, so 409 (allauth).
    expect((await h.browser().request("POST", "account/email", { email: "x@example.com" })).status).toBe(409);
    await h.close();
  });
});

describe("reauthentication", () => {
  it("suspends an add after the window, and replays it after POST auth/reauthenticate, never emitting user_logged_in (SE-08)", async () => {
    const h = await harness(
      { account: { ...base, reauthenticationRequired: true }, passwordHasher: fastHasher },
      { layer: TestContext.TestContext },
    );
    const client = h.app();
    await signedUp(h, client);
    // A signup records no authentication (allauth): right after it, the window is already closed.
    expect((await client.request("POST", "account/email", { email: "early@example.com" })).status).toBe(401);
    await client.request("DELETE", "auth/session");
    client.token = null;
    expect((await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    expect((await client.request("POST", "account/email", { email: "early@example.com" })).status).toBe(200);
    h.takeSignals();
    await advance(h, "301 seconds");
    const blocked = await client.request("POST", "account/email", { email: "second@example.com" });
    expect(blocked.status).toBe(401);
    expect(blocked.body.data.flows).toEqual([{ id: "reauthenticate" }]);
    expect(blocked.body.meta.is_authenticated).toBe(true);
    expect(h.takeSignals()).toEqual([]);
    expect((await emailRows(h)).map((r) => r.email)).not.toContain("second@example.com");

    const wrong = await client.request("POST", "auth/reauthenticate", { password: "not the password at all" });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors[0]).toMatchObject({ code: "incorrect_password", param: "password" });

    const ok = await client.request("POST", "auth/reauthenticate", { password: goodPassword });
    expect(ok.status).toBe(200);
    expect(ok.body.data.methods.at(-1)).toMatchObject({ method: "password", reauthenticated: true });
    expect(h.takeSignals()).toEqual(["email_confirmation_sent", "email_added"]);
    expect((await emailRows(h)).map((r) => r.email)).toContain("second@example.com");
    await h.close();
  });
  it("with password reset by code on, the reauthentication answer lists it after reauthenticate, not pending", async () => {
    const h = await harness(
      { account: { ...base, reauthenticationRequired: true, passwordResetByCodeEnabled: true }, passwordHasher: fastHasher },
      { layer: TestContext.TestContext },
    );
    const client = h.browser();
    await signedUp(h, client);
    h.takeSignals();
    await advance(h, "301 seconds");
    const blocked = await client.request("POST", "account/email", { email: "second@example.com" });
    expect(blocked.status).toBe(401);
    expect(blocked.body.data.flows).toEqual([{ id: "reauthenticate" }, { id: "password_reset_by_code", is_pending: false }]);
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });
  it("a change of primary after the window waits for reauthentication, then tells the old address (EM-11)", async () => {
    const h = await harness(
      { account: { ...base, reauthenticationRequired: true, emailNotifications: true }, passwordHasher: fastHasher },
      { layer: TestContext.TestContext },
    );
    const client = h.app();
    await signedUp(h, client);
    client.token = null;
    expect((await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    expect((await client.request("POST", "account/email", { email: "new@example.com" })).status).toBe(200);
    await h.query("UPDATE auth_email_address SET verified = 1");
    h.takeSignals();
    h.takeMails();
    await advance(h, "301 seconds");
    const blocked = await client.request("PATCH", "account/email", { email: "new@example.com", primary: true });
    expect(blocked.status).toBe(401);
    expect(blocked.body.data.flows).toEqual([{ id: "reauthenticate" }]);
    expect(h.takeSignals()).toEqual([]);
    expect(h.takeMails()).toEqual([]);
    expect((await emailRows(h)).filter((r) => r.is_primary === 1).map((r) => r.email)).toEqual(["ann@example.com"]);
    expect((await client.request("POST", "auth/reauthenticate", { password: goodPassword })).status).toBe(200);
    expect(h.takeSignals()).toEqual(["email_changed"]);
    expect((await emailRows(h)).filter((r) => r.is_primary === 1).map((r) => r.email)).toEqual(["new@example.com"]);
    expect(h.takeMails().map((m) => [m.to, m.subject])).toEqual([["ann@example.com", "[example.com] Email Changed"]]);
    await h.close();
  });
});
