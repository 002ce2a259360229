/**
 * ALLAUTH-ERRORS.md §16, `GET|POST|PUT|PATCH|DELETE account/email`, for the app and the browser
 * client. allauth's order: 401 (or 409 for an anonymous POST), the `manage_email` limit, the
 * input (every form check: duplicate, taken, limit, unknown, last or primary address, unverified
 * primary), and only then, for add, remove and mark-primary, the reauthentication 401.
 */
import { TestContext } from "effect";
import { describe, expect, it } from "vitest";
import { codeFromMail, goodPassword } from "../support/harness.ts";
import type { Client, ClientResponse, Harness } from "../support/harness.ts";
import { advance } from "../http/support.ts";
import { client, clients, err, expectAllauthErrors, expectBareStatus, perTest, signedUp, text, withoutWrites } from "./support.ts";
import type { AllauthError } from "./support.ts";

let h: Harness;
const open = perTest((opened) => (h = opened), { layer: TestContext.TestContext });

const send = (c: Client, method: string, body?: unknown) => c.request(method, "account/email", body);
const unknown = err("unknown_email", text.unknownEmailHeadless, "email");
const duplicate = err("duplicate_email", "This email address is already associated with this account.", "email");
const cannotRemove = err("cannot_remove_primary_email", "You cannot remove your primary email address.", "email");
const unverifiedPrimary = err("unverified_primary_email", "Your primary email address must be verified.", "email");

/** The email-shaped errors every method shares: missing, empty, malformed. */
async function expectEmailInputErrors(c: Client, method: string, extra: Record<string, unknown> = {}): Promise<void> {
  const cases: ReadonlyArray<[unknown, AllauthError]> = [
    [{ ...extra }, err("required", text.required, "email")],
    [{ ...extra, email: "" }, err("required", text.required, "email")],
    [{ ...extra, email: "not-an-address" }, err("invalid", text.invalidEmail, "email")],
  ];
  for (const [body, error] of cases) {
    expectAllauthErrors(await withoutWrites(h, () => send(c, method, body)), [error]);
  }
}

/** A 401 that asks for reauthentication: no address changes, no mail, no signal. */
async function expectReauthentication(send: () => Promise<ClientResponse>): Promise<void> {
  const before = await addressRows();
  const mails = h.mails.length;
  h.takeSignals();
  const res = await send();
  expect(res.status).toBe(401);
  expect(res.body).not.toHaveProperty("errors");
  expect(res.body.data.flows).toContainEqual(expect.objectContaining({ id: "reauthenticate" }));
  expect(await addressRows()).toEqual(before);
  expect(h.mails.length).toBe(mails);
  expect(h.takeSignals()).toEqual([]);
}

const addressRows = () =>
  h.query<{ email: string; verified: number; is_primary: number }>(
    "SELECT email, verified, is_primary FROM auth_email_address ORDER BY email",
  );

const listed = (res: ClientResponse) => (res.body.data as Array<{ email: string }>).map((a) => a.email);

/**
 * Ann, with bob@example.com added (unverified) in the same session. A fresh signup records no
 * authentication, so the session reauthenticates first (for `reauthenticationRequired`).
 */
async function withSecondAddress(kind: (typeof clients)[number]): Promise<Client> {
  const c = await signedUp(h, kind);
  expect((await c.request("POST", "auth/reauthenticate", { password: goodPassword })).status).toBe(200);
  expect((await send(c, "POST", { email: "bob@example.com" })).status).toBe(200);
  h.takeSignals();
  h.takeMails();
  return c;
}

describe.each(clients)("account/email (%s client)", (kind) => {
  it("401 for every method when nobody is logged in; an anonymous POST without a pending signup is a 409", async () => {
    await open();
    const c = client(h, kind);
    for (const method of ["GET", "PUT", "PATCH", "DELETE"]) {
      const res = await withoutWrites(h, () => send(c, method, method === "GET" ? undefined : { email: "ann@example.com" }));
      expect(res.status).toBe(401);
      expect(res.body).not.toHaveProperty("errors");
    }
    expectBareStatus(await withoutWrites(h, () => send(c, "POST", { email: "ann@example.com" })), 409);
    expectBareStatus(await withoutWrites(h, () => send(c, "POST", {})), 409);
  });

  it("GET lists the addresses (never limited)", async () => {
    await open({ rateLimits: { manageEmail: "1/m/user" } });
    const c = await signedUp(h, kind);
    for (let i = 0; i < 3; i++) {
      const res = await withoutWrites(h, () => send(c, "GET"));
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([{ email: "ann@example.com", verified: false, primary: true }]);
    }
  });

  describe("POST (add)", () => {
    it("400 required / invalid; 400 duplicate_email for an address of this account", async () => {
      await open();
      const c = await signedUp(h, kind);
      await expectEmailInputErrors(c, "POST");
      expectAllauthErrors(await withoutWrites(h, () => send(c, "POST", { email: "ann@example.com" })), [duplicate]);
    });

    it("400 email_taken only without enumeration prevention; with it the address is added unverified", async () => {
      await open({ preventEnumeration: false });
      await signedUp(h, kind, { email: "bea@example.com" });
      const c = await signedUp(h, kind);
      expectAllauthErrors(await withoutWrites(h, () => send(c, "POST", { email: "bea@example.com" })), [
        err("email_taken", text.emailTaken, "email"),
      ]);
    });

    it("200 for an address another account holds, with the default enumeration prevention", async () => {
      await open();
      await signedUp(h, kind, { email: "bea@example.com" });
      const c = await signedUp(h, kind);
      const res = await send(c, "POST", { email: "bea@example.com" });
      expect(res.status).toBe(200);
      expect(listed(res)).toEqual(["ann@example.com", "bea@example.com"]);
      expect(h.takeSignals()).toEqual(["email_confirmation_sent", "email_added"]);
      expect(h.takeMails().map((m) => m.to)).toEqual(["bea@example.com"]);
    });

    it("400 max_email_addresses with the number filled in; changeEmail always allows the add", async () => {
      await open({ maxEmailAddresses: 1 });
      const c = await signedUp(h, kind);
      expectAllauthErrors(await withoutWrites(h, () => send(c, "POST", { email: "bob@example.com" })), [
        err("max_email_addresses", "You cannot add more than 1 email addresses.", "email"),
      ]);
    });

    it("changeEmail: the add is allowed (and replaces a pending one)", async () => {
      await open({ changeEmail: true, maxEmailAddresses: 2 });
      const c = await signedUp(h, kind);
      expect((await send(c, "POST", { email: "bob@example.com" })).status).toBe(200);
      expect(h.takeSignals()).toEqual(["email_confirmation_sent", "email_added"]);
    });

    it("input errors before the reauthentication 401; a valid add then asks for reauthentication", async () => {
      await open({ reauthenticationRequired: true });
      const c = await signedUp(h, kind);
      await advance(h, "301 seconds");
      await expectEmailInputErrors(c, "POST");
      expectAllauthErrors(await withoutWrites(h, () => send(c, "POST", { email: "ann@example.com" })), [duplicate]);
      await expectReauthentication(() => send(c, "POST", { email: "bob@example.com" }));
      const replay = await c.request("POST", "auth/reauthenticate", { password: goodPassword });
      expect(replay.status).toBe(200);
      expect(h.takeSignals()).toEqual(["email_confirmation_sent", "email_added"]);
      expect((await addressRows()).map((r) => r.email)).toEqual(["ann@example.com", "bob@example.com"]);
    });

    it("429 for the manage_email limit, before the input", async () => {
      await open({ rateLimits: { manageEmail: "1/m/user" } });
      const c = await signedUp(h, kind);
      expectAllauthErrors(await send(c, "POST", {}), [err("required", text.required, "email")]);
      expectBareStatus(await withoutWrites(h, () => send(c, "POST", {})), 429);
    });
  });

  describe("POST, not logged in (change the address of a signup waiting for its code)", () => {
    const code = { emailVerification: "mandatory", emailVerificationByCodeEnabled: true } as const;

    async function pendingSignup(): Promise<Client> {
      const c = client(h, kind);
      expect((await c.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(401);
      h.takeSignals();
      h.takeMails();
      return c;
    }

    it("409 while the change quota is 0 (the default)", async () => {
      await open(code);
      const c = await pendingSignup();
      expectBareStatus(await withoutWrites(h, () => send(c, "POST", { email: "bob@example.com" })), 409);
    });

    it("400 required / invalid / same_as_current / email_taken; 200 changes it once, then 409", async () => {
      await open({ ...code, emailVerificationSupportsChange: 1, preventEnumeration: false });
      await signedUp(h, kind, { email: "bea@example.com" }, [401]);
      const c = await pendingSignup();
      await expectEmailInputErrors(c, "POST");
      expectAllauthErrors(await withoutWrites(h, () => send(c, "POST", { email: "ann@example.com" })), [
        err("same_as_current", "The new value must be different from the current one.", "email"),
      ]);
      expectAllauthErrors(await withoutWrites(h, () => send(c, "POST", { email: "bea@example.com" })), [
        err("email_taken", text.emailTaken, "email"),
      ]);
      const changed = await send(c, "POST", { email: "bob@example.com" });
      expect(changed.status).toBe(200);
      expect(listed(changed)).toEqual(["bob@example.com"]);
      expect(h.takeSignals()).toEqual(["email_confirmation_sent"]);
      const mail = h.takeMails()[0]!;
      expect(mail.to).toBe("bob@example.com");
      expect(codeFromMail(mail)).toMatch(/\S/);
      expectBareStatus(await withoutWrites(h, () => send(c, "POST", { email: "cyd@example.com" })), 409);
    });

    it("429 for the manage_email limit of the signup's user", async () => {
      await open({ ...code, emailVerificationSupportsChange: 3, rateLimits: { manageEmail: "1/m/user" } });
      const c = await pendingSignup();
      expectAllauthErrors(await send(c, "POST", {}), [err("required", text.required, "email")]);
      expectBareStatus(await withoutWrites(h, () => send(c, "POST", { email: "bob@example.com" })), 429);
    });
  });

  describe("code mode: the address an add waits to verify (not stored yet)", () => {
    const code = { emailVerification: "mandatory", emailVerificationByCodeEnabled: true, reauthenticationRequired: true } as const;

    /** Ann, verified by her code, waiting for the code of new@example.com. */
    async function waitingForNew(): Promise<Client> {
      const c = client(h, kind);
      expect((await c.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(401);
      expect((await c.request("POST", "auth/email/verify", { key: codeFromMail(h.takeMails()[0]!) })).status).toBe(200);
      expect((await c.request("POST", "auth/reauthenticate", { password: goodPassword })).status).toBe(200);
      expect((await send(c, "POST", { email: "new@example.com" })).status).toBe(200);
      expect(h.takeSignals()).toContain("email_confirmation_sent");
      h.takeMails();
      return c;
    }

    it("PATCH 400 unverified_primary_email; PUT 403 once the resend quota (0 by default) is used up", async () => {
      await open(code);
      const c = await waitingForNew();
      expectAllauthErrors(await withoutWrites(h, () => send(c, "PATCH", { email: "new@example.com", primary: true })), [
        unverifiedPrimary,
      ]);
      expectBareStatus(await withoutWrites(h, () => send(c, "PUT", { email: "new@example.com" })), 403);
    });

    it("DELETE 200 abandons it, with no reauthentication asked and no signal", async () => {
      await open(code);
      const c = await waitingForNew();
      await advance(h, "301 seconds");
      const res = await send(c, "DELETE", { email: "new@example.com" });
      expect(res.status).toBe(200);
      expect(listed(res)).toEqual(["ann@example.com"]);
      expect(h.takeSignals()).toEqual([]);
      expect(h.mails).toHaveLength(0);
    });
  });

  describe("PUT (resend verification)", () => {
    it("400 required / invalid / unknown_email (the headless text)", async () => {
      await open();
      const c = await signedUp(h, kind);
      await expectEmailInputErrors(c, "PUT");
      expectAllauthErrors(await withoutWrites(h, () => send(c, "PUT", { email: "nobody@example.com" })), [unknown]);
    });

    it("200 sends to an unverified address; 403 within the cooldown, sending nothing", async () => {
      await open();
      const c = await withSecondAddress(kind);
      await advance(h, "200 seconds");
      const res = await send(c, "PUT", { email: "bob@example.com" });
      expectBareStatus(res, 200);
      expect(h.takeSignals()).toEqual(["email_confirmation_sent"]);
      expect(h.takeMails().map((m) => m.to)).toEqual(["bob@example.com"]);
      expectBareStatus(await withoutWrites(h, () => send(c, "PUT", { email: "bob@example.com" })), 403);
    });

    it("200 sends to a verified address too, as allauth does", async () => {
      await open();
      const c = await signedUp(h, kind);
      await h.query("UPDATE auth_email_address SET verified = 1");
      expectBareStatus(await send(c, "PUT", { email: "ann@example.com" }), 200);
      expect(h.takeSignals()).toEqual(["email_confirmation_sent"]);
      expect(h.takeMails().map((m) => m.to)).toEqual(["ann@example.com"]);
    });

    it("never asks for reauthentication", async () => {
      await open({ reauthenticationRequired: true });
      const c = await withSecondAddress(kind);
      await advance(h, "301 seconds");
      expectBareStatus(await send(c, "PUT", { email: "bob@example.com" }), 200);
      expect(h.takeSignals()).toEqual(["email_confirmation_sent"]);
    });

    it("429 for the manage_email limit, before the input", async () => {
      await open({ rateLimits: { manageEmail: "1/m/user" } });
      const c = await signedUp(h, kind);
      expectAllauthErrors(await send(c, "PUT", { email: "nobody@example.com" }), [unknown]);
      expectBareStatus(await withoutWrites(h, () => send(c, "PUT", { email: "nobody@example.com" })), 429);
    });
  });

  describe("PATCH (make primary)", () => {
    it("400 required / invalid / unknown_email on email; 400 required on primary (missing or false)", async () => {
      await open();
      const c = await withSecondAddress(kind);
      await expectEmailInputErrors(c, "PATCH", { primary: true });
      expectAllauthErrors(await withoutWrites(h, () => send(c, "PATCH", { email: "nobody@example.com", primary: true })), [unknown]);
      for (const body of [{ email: "bob@example.com" }, { email: "bob@example.com", primary: false }]) {
        expectAllauthErrors(await withoutWrites(h, () => send(c, "PATCH", body)), [err("required", text.required, "primary")]);
      }
      // Both fields are cleaned: the email's error first, then primary's.
      expectAllauthErrors(await withoutWrites(h, () => send(c, "PATCH", { email: "nobody@example.com", primary: false })), [
        unknown,
        err("required", text.required, "primary"),
      ]);
    });

    it("400 unverified_primary_email while the account has a verified address; allowed without one", async () => {
      await open();
      const c = await withSecondAddress(kind);
      const allowed = await send(c, "PATCH", { email: "bob@example.com", primary: true });
      expect(allowed.status).toBe(200);
      expect(h.takeSignals()).toEqual(["email_changed"]);
      await h.query("UPDATE auth_email_address SET verified = 1 WHERE email = 'bob@example.com'");
      expectAllauthErrors(await withoutWrites(h, () => send(c, "PATCH", { email: "ann@example.com", primary: true })), [
        unverifiedPrimary,
      ]);
      expectAllauthErrors(await withoutWrites(h, () => send(c, "PATCH", { email: "ann@example.com" })), [
        unverifiedPrimary,
        err("required", text.required, "primary"),
      ]);
    });

    it("input errors before the reauthentication 401", async () => {
      await open({ reauthenticationRequired: true });
      const c = await withSecondAddress(kind);
      await h.query("UPDATE auth_email_address SET verified = 1 WHERE email = 'ann@example.com'");
      await advance(h, "301 seconds");
      expectAllauthErrors(await withoutWrites(h, () => send(c, "PATCH", { email: "nobody@example.com", primary: true })), [unknown]);
      expectAllauthErrors(await withoutWrites(h, () => send(c, "PATCH", { email: "bob@example.com", primary: true })), [
        unverifiedPrimary,
      ]);
      expectAllauthErrors(await withoutWrites(h, () => send(c, "PATCH", { email: "ann@example.com" })), [
        err("required", text.required, "primary"),
      ]);
      await expectReauthentication(() => send(c, "PATCH", { email: "ann@example.com", primary: true }));
    });

    it("429 for the manage_email limit, before the input", async () => {
      await open({ rateLimits: { manageEmail: "1/m/user" } });
      const c = await signedUp(h, kind);
      expectAllauthErrors(await send(c, "PATCH", { email: "ann@example.com" }), [err("required", text.required, "primary")]);
      expectBareStatus(await withoutWrites(h, () => send(c, "PATCH", { email: "ann@example.com", primary: true })), 429);
    });
  });

  describe("DELETE", () => {
    it("400 required / invalid / unknown_email (the headless text)", async () => {
      await open();
      const c = await signedUp(h, kind);
      await expectEmailInputErrors(c, "DELETE");
      expectAllauthErrors(await withoutWrites(h, () => send(c, "DELETE", { email: "nobody@example.com" })), [unknown]);
    });

    it("400 cannot_remove_primary_email: the primary while others exist, the only address with email-only login", async () => {
      await open();
      const c = await withSecondAddress(kind);
      expectAllauthErrors(await withoutWrites(h, () => send(c, "DELETE", { email: "ann@example.com" })), [cannotRemove]);
      const removed = await send(c, "DELETE", { email: "bob@example.com" });
      expect(removed.status).toBe(200);
      expect(listed(removed)).toEqual(["ann@example.com"]);
      expect(h.takeSignals()).toEqual(["email_removed"]);
      expectAllauthErrors(await withoutWrites(h, () => send(c, "DELETE", { email: "ann@example.com" })), [cannotRemove]);
      // The same code when the only address is not even primary.
      await h.query("UPDATE auth_email_address SET is_primary = 0");
      expectAllauthErrors(await withoutWrites(h, () => send(c, "DELETE", { email: "ann@example.com" })), [cannotRemove]);
    });

    it("the only address may go when username login is enabled too", async () => {
      await open({ loginMethods: ["email", "username"] });
      const c = await signedUp(h, kind, { username: "ann" });
      const res = await send(c, "DELETE", { email: "ann@example.com" });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([]);
      expect(h.takeSignals()).toEqual(["email_removed"]);
    });

    it("input errors before the reauthentication 401", async () => {
      await open({ reauthenticationRequired: true });
      const c = await withSecondAddress(kind);
      await advance(h, "301 seconds");
      await expectEmailInputErrors(c, "DELETE");
      expectAllauthErrors(await withoutWrites(h, () => send(c, "DELETE", { email: "nobody@example.com" })), [unknown]);
      expectAllauthErrors(await withoutWrites(h, () => send(c, "DELETE", { email: "ann@example.com" })), [cannotRemove]);
      await expectReauthentication(() => send(c, "DELETE", { email: "bob@example.com" }));
      expect((await c.request("POST", "auth/reauthenticate", { password: goodPassword })).status).toBe(200);
      expect(h.takeSignals()).toEqual(["email_removed"]);
      expect((await addressRows()).map((r) => r.email)).toEqual(["ann@example.com"]);
    });

    it("429 for the manage_email limit, before the input", async () => {
      await open({ rateLimits: { manageEmail: "1/m/user" } });
      const c = await signedUp(h, kind);
      expectAllauthErrors(await send(c, "DELETE", { email: "nobody@example.com" }), [unknown]);
      expectBareStatus(await withoutWrites(h, () => send(c, "DELETE", { email: "nobody@example.com" })), 429);
    });
  });
});
