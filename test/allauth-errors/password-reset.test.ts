/**
 * ALLAUTH-ERRORS.md §13 (`POST auth/password/request`) and §14 (`GET|POST auth/password/reset`,
 * link mode and code mode), row by row, for the app and the browser client.
 */
import { TestContext } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import type { AccountConfig } from "../../src/config.ts";
import { codeFromMail, goodPassword } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { advance } from "../http/support.ts";
import { client, clients, closeAll, expectErrors, expectStatus, messages, open, writesNothing } from "./code-flow-walk.ts";

afterEach(closeAll);

const newPassword = "a brand new passphrase 77";
const short = "sh0rt-x";
const link: AccountConfig = { loginMethods: ["email"], emailVerification: "none" };
const code: AccountConfig = { ...link, passwordResetByCodeEnabled: true };

async function account(h: Harness, email = "ann@example.com"): Promise<void> {
  const c = h.app();
  await c.request("POST", "auth/signup", { email, password: goodPassword });
  await c.request("DELETE", "auth/session");
  h.takeMails();
  h.takeSignals();
}

/** Requests a reset for ann from `c`: the key (link mode) or code (code mode) mailed. */
async function requested(h: Harness, c: Client): Promise<string> {
  await c.request("POST", "auth/password/request", { email: "ann@example.com" });
  const mail = h.takeMails()[0]!;
  const key = /password\/reset\/key\/(\S+)/.exec(mail.text);
  return key === null ? codeFromMail(mail) : decodeURIComponent(key[1]!);
}

const request = (c: Client, body: unknown) => c.request("POST", "auth/password/request", body);
const get = (c: Client, key?: string) =>
  c.request("GET", "auth/password/reset", undefined, key === undefined ? {} : { "x-password-reset-key": key });
const post = (c: Client, body: unknown) => c.request("POST", "auth/password/reset", body);

const incorrect = { param: "key", code: "incorrect_code", message: messages.incorrectCode } as const;
const tooShort = { param: "password", code: "password_too_short", message: messages.passwordTooShort } as const;

describe.each(clients)("§13 POST auth/password/request (%s)", (kind) => {
  it("400 email required, 400 email invalid", async () => {
    const h = await open(link);
    expectErrors(await writesNothing(h, () => request(client(h, kind), {})), [{ param: "email", code: "required", message: messages.required }]);
    expectErrors(await writesNothing(h, () => request(client(h, kind), { email: "nope" })), [
      { param: "email", code: "invalid", message: messages.invalidEmail },
    ]);
  });

  it("400 unknown_email without enumeration prevention", async () => {
    const h = await open({ ...link, preventEnumeration: false });
    await account(h);
    expectErrors(await writesNothing(h, () => request(client(h, kind), { email: "nobody@example.com" })), [
      { param: "email", code: "unknown_email", message: messages.unknownEmail },
    ]);
  });

  it("429 from the per-address limit (5/m), after validation, mailing nothing", async () => {
    const h = await open(link);
    await account(h);
    for (let i = 0; i < 5; i++) {
      expect((await request(client(h, kind), { email: "ann@example.com" })).status).toBe(200);
    }
    h.takeMails();
    expectStatus(await writesNothing(h, () => request(client(h, kind), { email: "ann@example.com" })), 429);
    expectErrors(await request(client(h, kind), { email: "nope" }), [{ param: "email", code: "invalid", message: messages.invalidEmail }]);
  });

  it("200 in link mode (known or unknown address); 401 with password_reset_by_code pending in code mode", async () => {
    const h = await open(link);
    await account(h);
    expectStatus(await request(client(h, kind), { email: "ann@example.com" }), 200);
    expectStatus(await request(client(h, kind), { email: "nobody@example.com" }), 200);
    const hc = await open(code);
    await account(hc);
    const res = await request(client(hc, kind), { email: "ann@example.com" });
    expect(res.status).toBe(401);
    expect(res.body.data.flows).toContainEqual({ id: "password_reset_by_code", is_pending: true });
    expect([...h.takeSignals(), ...hc.takeSignals()]).toEqual([]);
  });
});

describe.each(clients)("§14 link mode (%s)", (kind) => {
  it("400 key required (GET without the header; POST without key, beside password required)", async () => {
    const h = await open(link);
    const c = client(h, kind);
    expectErrors(await writesNothing(h, () => get(c)), [{ param: "key", code: "required", message: messages.required }]);
    expectErrors(await writesNothing(h, () => post(c, {})), [
      { param: "key", code: "required", message: messages.required },
      { param: "password", code: "required", message: messages.required },
    ]);
  });

  it("400 invalid_password_reset for a wrong key (GET and POST), and the password is not looked at", async () => {
    const h = await open(link);
    await account(h);
    const c = client(h, kind);
    const invalid = [{ param: "key", code: "invalid_password_reset", message: messages.invalidPasswordReset }];
    expectErrors(await writesNothing(h, () => get(c, "1-nope")), invalid);
    expectErrors(await writesNothing(h, () => post(c, { key: "1-nope", password: short })), invalid);
  });

  it("400 password_too_short with a valid key, which stays usable; 401 on success with password_reset", async () => {
    const h = await open(link);
    await account(h);
    const c = client(h, kind);
    const key = await requested(h, c);
    expectErrors(await writesNothing(h, () => post(c, { key, password: short })), [tooShort]);
    expect((await get(c, key)).status).toBe(200);
    const done = await post(c, { key, password: newPassword });
    expect(done.status).toBe(401);
    expect(h.takeSignals()).toEqual(["password_reset"]);
  });
});

describe.each(clients)("§14 code mode (%s)", (kind) => {
  it("409 with no process (GET and POST), before the input is read", async () => {
    const h = await open(code);
    const c = client(h, kind);
    expectStatus(await writesNothing(h, () => get(c, "BCDF-GHJK")), 409);
    expectStatus(await writesNothing(h, () => post(c, {})), 409);
  });

  it("key errors count (GET too), the third answers 400 and then 409, for GET and POST", async () => {
    const h = await open(code);
    await account(h);
    const c = client(h, kind);
    const theCode = await requested(h, c);
    expectErrors(await writesNothing(h, () => get(c)), [{ param: "key", code: "required", message: messages.required }]);
    expectErrors(await writesNothing(h, () => get(c, "BCDF-GHJK")), [incorrect]);
    expectErrors(await writesNothing(h, () => post(c, { key: "BCDF-GHJL", password: newPassword })), [incorrect]);
    expectStatus(await writesNothing(h, () => get(c, theCode)), 409);
    expectStatus(await writesNothing(h, () => post(c, { key: theCode, password: newPassword })), 409);
  });

  it("a wrong key with a short password answers both errors in field order (the key's counted)", async () => {
    const h = await open(code);
    await account(h);
    const c = client(h, kind);
    const theCode = await requested(h, c);
    expectErrors(await writesNothing(h, () => post(c, { key: "BCDF-GHJK", password: short })), [incorrect, tooShort]);
    expectErrors(await post(c, { key: "BCDF-GHJL" }), [incorrect, { param: "password", code: "required", message: messages.required }]);
    // two counted: the third wrong one ends the flow
    expectErrors(await post(c, { key: "BCDF-GHJM", password: newPassword }), [incorrect]);
    expectStatus(await post(c, { key: theCode, password: newPassword }), 409);
  });

  it("a right code with a short password changes nothing, counts nothing and emits nothing", async () => {
    const h = await open(code);
    await account(h);
    const c = client(h, kind);
    const theCode = await requested(h, c);
    for (let i = 0; i < 4; i++) {
      expectErrors(await writesNothing(h, () => post(c, { key: theCode, password: short })), [tooShort]);
    }
    const done = await post(c, { key: theCode, password: newPassword });
    expect(done.status).toBe(401);
    expect(h.takeSignals()).toEqual(["email_confirmed", "password_reset"]);
  });

  it("409 once the process timed out (180 s), and after it completed", async () => {
    const h = await open(code, { layer: TestContext.TestContext });
    await account(h);
    const c = client(h, kind);
    const theCode = await requested(h, c);
    await advance(h, "181 seconds");
    expectStatus(await writesNothing(h, () => get(c, theCode)), 409);
    const again = await requested(h, c);
    expect((await post(c, { key: again, password: newPassword })).status).toBe(401);
    h.takeSignals();
    expectStatus(await writesNothing(h, () => post(c, { key: again, password: newPassword })), 409);
  });

  it("an unknown address's flow (enumeration prevention): a GET with a code answers 400 incorrect_code, counted", async () => {
    const h = await open(code);
    const c = client(h, kind);
    await request(c, { email: "nobody@example.com" });
    h.takeMails();
    for (const guess of ["BCDF-GHJK", "BCDF-GHJL", "BCDF-GHJM"]) {
      expectErrors(await writesNothing(h, () => get(c, guess)), [incorrect]);
    }
    expectStatus(await get(c, "BCDF-GHJN"), 409);
  });

  it("GET 200 with the right code: data.user, email_confirmed once", async () => {
    const h = await open(code);
    await account(h);
    const c = client(h, kind);
    const theCode = await requested(h, c);
    const info = await get(c, theCode);
    expect([info.status, info.body.data.user.email]).toEqual([200, "ann@example.com"]);
    expect(h.takeSignals()).toEqual(["email_confirmed"]);
  });
});
