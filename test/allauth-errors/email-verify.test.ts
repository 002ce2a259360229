/**
 * ALLAUTH-ERRORS.md §9 (`GET|POST auth/email/verify`, link mode and code mode) and §10
 * (`POST auth/email/verify/resend`), row by row, for the app and the browser client.
 */
import { TestContext } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import type { AccountConfig } from "../../src/config.ts";
import { codeFromMail, goodPassword, keyFromMail } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { advance } from "../http/support.ts";
import { client, clients, closeAll, expectErrors, expectStatus, messages, open, writesNothing } from "./code-flow-walk.ts";

afterEach(closeAll);

const link: AccountConfig = { loginMethods: ["email"], emailVerification: "mandatory", loginOnEmailConfirmation: true };
const code: AccountConfig = { loginMethods: ["email"], emailVerification: "mandatory", emailVerificationByCodeEnabled: true };

/** Signs `email` up in `c`'s session: the verification mail's key or code. */
async function signedUp(h: Harness, c: Client, email = "ann@example.com"): Promise<string> {
  expect((await c.request("POST", "auth/signup", { email, password: goodPassword })).status).toBe(401);
  const mail = h.takeMails()[0]!;
  h.takeSignals();
  return /verify-email\//.test(mail.text) ? keyFromMail(mail) : codeFromMail(mail);
}

/** Another account holds ann@example.com verified (as if it verified it first). */
async function takenElsewhere(h: Harness): Promise<void> {
  await h.query("INSERT INTO auth_user (id, email, password, date_joined) VALUES ('other', 'ann@example.com', '!', 0)");
  await h.query(
    "INSERT INTO auth_email_address (id, user_id, email, verified, is_primary) VALUES ('other-ann', 'other', 'ann@example.com', 1, 1)",
  );
}

const get = (c: Client, key?: string) =>
  c.request("GET", "auth/email/verify", undefined, key === undefined ? {} : { "x-email-verification-key": key });
const post = (c: Client, body: unknown) => c.request("POST", "auth/email/verify", body);

describe.each(clients)("§9 link mode (%s)", (kind) => {
  it("400 key required: an empty body, an empty header", async () => {
    const h = await open(link);
    const c = client(h, kind);
    await signedUp(h, c);
    const required = [{ param: "key", code: "required", message: messages.required }];
    expectErrors(await writesNothing(h, () => post(c, {})), required);
    expectErrors(await writesNothing(h, () => get(c)), required);
    expectErrors(await writesNothing(h, () => get(c, "")), required);
  });

  it("400 invalid_or_expired_key for an unknown, an expired and an already used key (GET and POST)", async () => {
    const h = await open(link, { layer: TestContext.TestContext });
    const c = client(h, kind);
    const key = await signedUp(h, c);
    const invalid = [{ param: "key", code: "invalid_or_expired_key", message: messages.invalidOrExpiredKey }];
    expectErrors(await writesNothing(h, () => post(c, { key: "no-such-key" })), invalid);
    expectErrors(await writesNothing(h, () => get(c, "no-such-key")), invalid);
    // used
    const other = client(h, kind);
    const used = await signedUp(h, other, "bea@example.com");
    expect((await post(other, { key: used })).status).toBe(200);
    h.takeSignals();
    expectErrors(await writesNothing(h, () => post(other, { key: used })), invalid);
    // expired (3 days)
    await advance(h, `${3 * 86400 + 1} seconds`);
    expectErrors(await writesNothing(h, () => post(c, { key })), invalid);
  });

  it("400 email_taken when another account verified the address meanwhile; the key stays unused", async () => {
    const h = await open(link);
    const c = client(h, kind);
    const key = await signedUp(h, c);
    await takenElsewhere(h);
    expectErrors(await writesNothing(h, () => post(c, { key })), [
      { param: "key", code: "email_taken", message: messages.emailTaken },
    ]);
  });

  it("GET 200 with data.email, data.user and meta.is_authenticating; POST 200 logs in, emits email_confirmed → user_logged_in", async () => {
    const h = await open(link);
    const c = client(h, kind);
    const key = await signedUp(h, c);
    const info = await get(c, key);
    expect(info.status).toBe(200);
    expect(info.body.data.email).toBe("ann@example.com");
    expect(info.body.meta).toEqual({ is_authenticating: true });
    expect(h.takeSignals()).toEqual([]);
    expect((await post(c, { key })).status).toBe(200);
    expect(h.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
  });
});

describe.each(clients)("§9 code mode (%s)", (kind) => {
  it("409 with no pending verify_email stage (GET and POST), before the input is read", async () => {
    const h = await open(code);
    const c = client(h, kind);
    expectStatus(await writesNothing(h, () => post(c, {})), 409);
    expectStatus(await writesNothing(h, () => get(c, "BCDF-GHJK")), 409);
  });

  it("400 key required and incorrect_code count (GET like POST); the third still 400, then 409", async () => {
    const h = await open(code);
    const c = client(h, kind);
    const theCode = await signedUp(h, c);
    expectErrors(await writesNothing(h, () => post(c, {})), [{ param: "key", code: "required", message: messages.required }]);
    expectErrors(await writesNothing(h, () => get(c, "BCDF-GHJK")), [
      { param: "key", code: "incorrect_code", message: messages.incorrectCode },
    ]);
    expectErrors(await writesNothing(h, () => post(c, { key: "BCDF-GHJL" })), [
      { param: "key", code: "incorrect_code", message: messages.incorrectCode },
    ]);
    expectStatus(await writesNothing(h, () => post(c, { key: theCode })), 409);
    expectStatus(await get(c, theCode), 409);
  });

  it("409 after the process timed out (15 minutes), and for a second POST of a used code", async () => {
    const h = await open(code, { layer: TestContext.TestContext });
    const c = client(h, kind);
    const theCode = await signedUp(h, c);
    await advance(h, "901 seconds");
    expectStatus(await writesNothing(h, () => post(c, { key: theCode })), 409);
    const other = client(h, kind);
    const second = await signedUp(h, other, "bea@example.com");
    expect((await post(other, { key: second })).status).toBe(200);
    expect(h.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
    expectStatus(await writesNothing(h, () => post(other, { key: second })), 409);
  });

  it("400 email_taken for the right code when another account verified the address meanwhile", async () => {
    const h = await open(code);
    const c = client(h, kind);
    const theCode = await signedUp(h, c);
    await takenElsewhere(h);
    expectErrors(await writesNothing(h, () => post(c, { key: theCode })), [
      { param: "key", code: "email_taken", message: messages.emailTaken },
    ]);
  });

  it("GET 200 with the right code confirms nothing; POST 200 emits email_confirmed → user_logged_in", async () => {
    const h = await open(code);
    const c = client(h, kind);
    const theCode = await signedUp(h, c);
    const info = await writesNothing(h, () => get(c, theCode));
    expect([info.status, info.body.data.email, info.body.meta]).toEqual([200, "ann@example.com", { is_authenticating: true }]);
    expect((await post(c, { key: theCode })).status).toBe(200);
    expect(h.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
  });
});

describe.each(clients)("§10 POST auth/email/verify/resend (%s)", (kind) => {
  const resend = (c: Client) => c.request("POST", "auth/email/verify/resend");

  it("409 in link mode, and in code mode without resend support", async () => {
    for (const account of [link, code]) {
      const h = await open(account);
      const c = client(h, kind);
      await signedUp(h, c);
      expectStatus(await writesNothing(h, () => resend(c)), 409);
    }
  });

  it("409 with no process", async () => {
    const h = await open({ ...code, emailVerificationSupportsResend: true });
    expectStatus(await writesNothing(h, () => resend(client(h, kind))), 409);
  });

  it("429 right after the signup's code mail (the same 10 s cooldown), then 200 (email_confirmation_sent), 429, 200, and 409 once the quota (2) is used", async () => {
    const h = await open({ ...code, emailVerificationSupportsResend: true }, { layer: TestContext.TestContext });
    const c = client(h, kind);
    await signedUp(h, c);
    expectStatus(await writesNothing(h, () => resend(c)), 429);
    await advance(h, "11 seconds");
    expectStatus(await resend(c), 200);
    expect(h.takeSignals()).toEqual(["email_confirmation_sent"]);
    expect(h.takeMails()).toHaveLength(1);
    expectStatus(await writesNothing(h, () => resend(c)), 429);
    await advance(h, "11 seconds");
    expectStatus(await resend(c), 200);
    h.takeMails();
    h.takeSignals();
    await advance(h, "11 seconds");
    expectStatus(await writesNothing(h, () => resend(c)), 409);
  });
});
