/**
 * NUL in any text field is refused before a flow runs, as Django's `CharField` refuses it
 * (`ProhibitNullCharactersValidator`: code `null_characters_not_allowed`), passwords and codes
 * included: a 400 naming the field, nothing written, no mail, no signal, no code attempt used.
 * Found by the fuzzer (`fuzz.test.ts`): a signup whose password held NUL reached the database,
 * and PostgreSQL cannot store NUL in a text column (a 500).
 */
import { afterEach, describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import type { Client, ClientResponse, Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

/** A harness whose hasher keeps the password's text in its hash (so NUL would reach a row). */
async function open(): Promise<Harness> {
  h = await harness({
    passwordHasher: fastHasher,
    account: { loginMethods: ["email"], emailVerification: "mandatory", loginByCodeEnabled: true, rateLimits: false },
  });
  return h;
}

async function rows(): Promise<Record<string, ReadonlyArray<unknown>>> {
  const out: Record<string, ReadonlyArray<unknown>> = {};
  for (const table of await h.tableNames()) {
    out[table] = await h.query(`SELECT * FROM ${table}`);
  }
  return out;
}

/** Sends `request` and checks that it is refused for NUL in `param`, changing nothing. */
async function expectNulRefused(param: string, request: () => Promise<ClientResponse>): Promise<void> {
  const before = await rows();
  h.takeMails();
  h.takeSignals();
  const res = await request();
  expect(res.status).toBe(400);
  expect(res.body).toEqual({ status: 400, errors: [{ param, code: "null_characters_not_allowed", message: "Null characters are not allowed." }] });
  expect(await rows()).toEqual(before);
  expect(h.takeMails()).toEqual([]);
  expect(h.takeSignals()).toEqual([]);
}

async function verifiedAlice(): Promise<Client> {
  const browser = h.browser();
  expect((await browser.request("POST", "auth/signup", { email: "alice@example.com", password: goodPassword })).status).toBe(401);
  const mail = h.takeMails()[0]!;
  const key = decodeURIComponent(/verify-email\/(\S+)/.exec(mail.text)![1]!);
  await browser.request("POST", "auth/email/verify", { key });
  expect((await browser.request("POST", "auth/login", { email: "alice@example.com", password: goodPassword })).status).toBe(200);
  return browser;
}

describe("NUL in a text field", () => {
  it.each(["browser", "app"] as const)("%s signup: a password with NUL is refused, no user is written", async (kind) => {
    await open();
    const client = kind === "browser" ? h.browser() : h.app();
    await expectNulRefused("password", () => client.request("POST", "auth/signup", { email: "bob@example.com", password: `${goodPassword}\u0000` }));
  });

  it("login: a password with NUL is refused before it is checked", async () => {
    await open();
    await verifiedAlice();
    await expectNulRefused("password", () => h.app().request("POST", "auth/login", { email: "alice@example.com", password: `\u0000${goodPassword}` }));
  });

  it("password change: a new password with NUL is refused, the old one still works", async () => {
    await open();
    const alice = await verifiedAlice();
    await expectNulRefused("new_password", () =>
      alice.request("POST", "account/password/change", { current_password: goodPassword, new_password: `${goodPassword}\u0000\u0000` }),
    );
    expect((await h.app().request("POST", "auth/login", { email: "alice@example.com", password: goodPassword })).status).toBe(200);
  });

  it("a login code with NUL is refused without using an attempt", async () => {
    await open();
    await verifiedAlice();
    const app = h.app();
    expect((await app.request("POST", "auth/code/request", { email: "alice@example.com" })).status).toBe(401);
    await expectNulRefused("code", () => app.request("POST", "auth/code/confirm", { code: "ABCD\u0000EFGH" }));
  });

  it("a text field's NUL is answered, not only an email's (the email validator answers `invalid` first)", async () => {
    await open();
    const res = await h.app().request("POST", "auth/signup", { email: "bob\u0000@example.com", password: goodPassword });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ param: "email", code: "invalid", message: "Enter a valid email address." }]);
    expect(await h.count("auth_user")).toBe(0);
  });
});
