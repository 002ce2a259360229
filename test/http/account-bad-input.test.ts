/**
 * Bad input on the account endpoints (SECURITY.md §9 IV-01..IV-05, §8 EM-03/04, §6 SE-12):
 * `POST|PUT|PATCH|DELETE account/email`, `POST account/password/change`,
 * `POST auth/password/request`, `GET|POST auth/password/reset`, `POST auth/code/request`,
 * `POST auth/code/confirm`, `POST auth/reauthenticate` and `DELETE auth/sessions`.
 *
 * Every refusal answers 400 with `errors: [{ param?, code, message }]` (or, for a body that is not
 * one JSON object, Django's empty 400), writes no row (rate-limit hits included: they are taken
 * only once the input is valid), sends no mail, emits no signal and never reaches the password
 * hasher. Fields an endpoint does not read are ignored, as allauth's inputs ignore them: the
 * answer is the one without them. Logged-in endpoints are probed from one session whose rows are
 * counted after logging in.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { AccountConfig } from "../../src/config.ts";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Client, ClientResponse, Harness } from "../support/harness.ts";
import { spyHasher } from "../support/spy-hasher.ts";
import type { Spy } from "../support/spy-hasher.ts";
import { emailRows } from "./support.ts";

const tables = ["auth_user", "auth_email_address", "auth_session", "auth_verification", "auth_flow", "auth_rate_limit"];

let h: Harness;
let spy: Spy;

afterEach(async () => {
  await h?.close();
});

async function open(account: AccountConfig = {}): Promise<Harness> {
  spy = spyHasher();
  h = await harness({
    passwordHasher: spy.hasher,
    usersessions: true,
    account: { loginMethods: ["email"], emailVerification: "none", ...account },
  });
  spy.reset();
  return h;
}

/** Signs up `client` (logged in afterwards); everything recorded is cleared. */
async function member(client: Client, email = "ann@example.com"): Promise<void> {
  const res = await client.request("POST", "auth/signup", { email, password: goodPassword });
  expect(res.status).toBe(200);
  h.takeSignals();
  h.takeMails();
  spy.reset();
}

async function counts(): Promise<Record<string, number>> {
  const entries = await Promise.all(tables.map(async (t) => [t, await h.count(t)] as const));
  return Object.fromEntries(entries);
}

/** The errors of a 400, or `"bare"`: Django's empty, non-JSON 400 for an unreadable body. */
type Expected = ReadonlyArray<{ readonly param?: string; readonly code: string }> | "bare";

const order = (e: { param?: string; code: string }) => `${e.param ?? ""}|${e.code}`;

/** A 400 with exactly these errors (any order), each `{ param?, code, message }` and no more. */
function expectErrors(res: ClientResponse, expected: Expected): void {
  expect(res.status).toBe(400);
  if (expected === "bare") {
    expect(res.body).toBeNull();
    return;
  }
  expect(res.body).toEqual({ status: 400, errors: expect.any(Array) });
  const errors = res.body.errors as Array<Record<string, unknown>>;
  for (const e of errors) {
    expect(e["message"]).toEqual(expect.stringMatching(/\S/));
    expect(Object.keys(e).filter((k) => !["param", "code", "message"].includes(k))).toEqual([]);
  }
  const got = errors.map((e) => (e["param"] === undefined ? { code: e["code"] } : { param: e["param"], code: e["code"] }));
  expect([...got].sort((a, b) => order(a as never).localeCompare(order(b as never)))).toEqual(
    [...expected].sort((a, b) => order(a).localeCompare(order(b))),
  );
}

/**
 * Sends one bad request: the errors, and no row, mail, signal or hasher call. `limited`: the
 * endpoint takes its rate-limit hit before reading the body (allauth's decorator), so that table
 * may grow; `verifies`: password checks the input itself makes (allauth cleans every field).
 */
async function expectRefused(
  send: () => Promise<ClientResponse>,
  expected: Expected,
  options: { readonly limited?: boolean; readonly verifies?: number } = {},
): Promise<ClientResponse> {
  const before = await counts();
  const mails = h.mails.length;
  const signals = h.signals.length;
  const hashes = spy.hashes;
  const verifies = spy.verifies;
  const res = await send();
  expectErrors(res, expected);
  const after = await counts();
  expect(options.limited === true ? { ...after, auth_rate_limit: 0 } : after).toEqual(
    options.limited === true ? { ...before, auth_rate_limit: 0 } : before,
  );
  expect(h.mails.slice(mails)).toEqual([]);
  expect(h.signals.slice(signals).map((s) => s.type)).toEqual([]);
  expect(spy.hashes).toBe(hashes);
  expect(spy.verifies - verifies).toBe(options.verifies ?? 0);
  return res;
}

/**
 * A field the endpoint does not read is ignored: in two fresh setups, the request with `extra`
 * answers as the one without it (status, errors), writes the same addresses, mails the same
 * recipients and emits the same signals.
 */
async function expectIgnored(
  setup: () => Promise<void>,
  send: (body: unknown) => Promise<ClientResponse>,
  body: () => Record<string, unknown>,
  extra: Record<string, unknown>,
): Promise<void> {
  const observe = async (res: ClientResponse) => ({
    status: res.status,
    errors: res.body?.errors,
    addresses: (await emailRows(h)).map(({ user_id: _u, ...row }) => row),
    mails: h.takeMails().map((m) => m.to),
    signals: h.takeSignals(),
  });
  await setup();
  const plain = await observe(await send(body()));
  await h.close();
  await setup();
  const withExtra = await observe(await send({ ...body(), ...extra }));
  expect(withExtra).toEqual(plain);
}

const invalidBody = "bare";
const mib = "p".repeat(1024 * 1024);

/** Bodies that are not one JSON object. */
const malformed: ReadonlyArray<readonly [string, string]> = [
  ["truncated JSON", '{"email": "ann@example.com", '],
  ["trailing comma", '{"email": "ann@example.com",}'],
  ["single quotes", "{'email': 'ann@example.com'}"],
  ["form encoding", "email=ann%40example.com"],
  ["bare word", "undefined"],
  ["NUL byte", "\u0000"],
  ["top-level array", '[{"email": "ann@example.com"}]'],
  ["top-level string", '"ann@example.com"'],
  ["top-level number", "42"],
  ["top-level true", "true"],
  ["whitespace only", " \n"],
];

/** Values of the wrong JSON type where a string is expected (null counts as missing). */
const notStrings: ReadonlyArray<readonly [string, unknown, string]> = [
  ["number", 123, "invalid"],
  ["zero", 0, "invalid"],
  ["array", ["ann@example.com", "evil@evil.test"], "invalid"],
  ["empty array (Django: empty)", [], "required"],
  ["object", { $ne: null }, "invalid"],
  ["empty object (Django: empty)", {}, "required"],
  ["true", true, "invalid"],
  ["false", false, "invalid"],
  ["null", null, "required"],
];

/** Not one valid address, though each looks like one to someone. */
const badAddresses: ReadonlyArray<readonly [string, string]> = [
  ["fullwidth at", "ann\uff20example.com"],
  ["small commercial at", "ann\ufe6bexample.com"],
  ["CRLF header injection", "ann@example.com\r\nBcc: evil@evil.test"],
  ["LF injection", "ann@example.com\nRCPT TO:<evil@evil.test>"],
  ["comma list", "ann@example.com,evil@evil.test"],
  ["semicolon list", "ann@example.com;evil@evil.test"],
  ["display name", "Ann <ann@example.com>"],
  ["zero-width space", "an\u200bn@example.com"],
  ["RTL override", "ann\u202e@example.com"],
  ["NUL", "ann@example.com\u0000.evil.test"],
  ["two at signs", "ann@evil.test@example.com"],
];

describe("account/email", () => {
  const methods = ["POST", "PUT", "PATCH", "DELETE"] as const;
  type Method = (typeof methods)[number];
  /** A valid body for `method`, over the user's own primary address. */
  const valid = (method: Method, email: unknown = "ann@example.com"): Record<string, unknown> =>
    method === "PATCH" ? { email, primary: true } : { email };
  let client: Client;
  /** The manage_email limit is taken before the body is read (allauth's ManageEmailView). */
  const refused = (s: () => Promise<ClientResponse>, expected: Expected) => expectRefused(s, expected, { limited: true });

  async function openLoggedIn(): Promise<void> {
    await open();
    client = h.app();
    await member(client);
  }

  it("control: a valid add writes a row, mails, signals and takes rate-limit hits", async () => {
    await openLoggedIn();
    const before = await counts();
    const res = await client.request("POST", "account/email", { email: "second@example.com" });
    expect(res.status).toBe(200);
    expect(await counts()).toEqual({
      ...before,
      auth_email_address: before["auth_email_address"]! + 1,
      auth_verification: before["auth_verification"]! + 1,
      auth_rate_limit: before["auth_rate_limit"]! + 2, // manage_email, and the new address's confirm_email
    });
    expect(h.takeMails()).toHaveLength(1);
    expect(h.takeSignals()).toEqual(["email_confirmation_sent", "email_added"]);
  });

  describe.each(methods)("%s", (method) => {
    const send = (body: unknown, c: Client = client) => c.request(method, "account/email", body);
    const missingPrimary = method === "PATCH" ? [{ param: "primary", code: "required" }] : [];

    it.each([
      ["empty object", {}],
      ["empty body", ""],
      ["null email", { email: null }],
      ["empty email", { email: "" }],
    ] as const)("missing email: %s", async (_name, body) => {
      await openLoggedIn();
      await refused(() => send(body), [{ param: "email", code: "required" }, ...missingPrimary]);
    });

    it.each([
      ["user_id", "someone-else"],
      ["verified", true],
      ["is_primary", true],
      ["emails", ["b@example.com"]],
      ...(method === "PATCH" ? [] : [["primary", true] as const]),
    ] as const)("unknown field %s is ignored", async (field, value) => {
      await expectIgnored(openLoggedIn, (body) => send(body), () => valid(method, "second@example.com"), { [field]: value });
    });

    it.each(notStrings)("email as %s", async (_name, value, code) => {
      await openLoggedIn();
      await refused(() => send(valid(method, value)), [{ param: "email", code }]);
    });

    it.each(malformed)("malformed body: %s", async (_name, body) => {
      await openLoggedIn();
      await refused(() => send(body), invalidBody);
    });

    it("a 1 MiB body", async () => {
      await openLoggedIn();
      await refused(() => send({ ...valid(method), padding: mib }), invalidBody);
    });

    it("a 255-character address (max_length)", async () => {
      await openLoggedIn();
      const email = `${"a".repeat(64)}@${"d".repeat(63)}.${"d".repeat(63)}.${"d".repeat(58)}.com`;
      expect(email).toHaveLength(255);
      await refused(() => send(valid(method, email)), [{ param: "email", code: "max_length" }]);
    });

    it.each(badAddresses)("invalid address: %s", async (_name, email) => {
      await openLoggedIn();
      const rows = await emailRows(h);
      await refused(() => send(valid(method, email)), [{ param: "email", code: "invalid" }]);
      expect(await emailRows(h)).toEqual(rows);
    });

    it("the browser client gets the same answers", async () => {
      await open();
      const browser = h.browser();
      await member(browser);
      await refused(() => send("[1]", browser), invalidBody);
      await refused(() => send(valid(method, ["ann@example.com"]), browser), [{ param: "email", code: "invalid" }]);
      await refused(() => send(valid(method, "ann\uff20example.com"), browser), [{ param: "email", code: "invalid" }]);
    });
  });

  describe("PATCH primary must be the JSON boolean true", () => {
    it.each([
      ["the string \"true\"", "true", "invalid"],
      ["the number 1", 1, "invalid"],
      ["an array", [true], "invalid"],
      ["an object", { value: true }, "invalid"],
      ["false (Django's required BooleanField)", false, "required"],
      ["null", null, "required"],
      ["an empty string", "", "required"],
    ])("%s", async (_name, primary, code) => {
      await openLoggedIn();
      await client.request("POST", "account/email", { email: "second@example.com" });
      await h.query("UPDATE auth_email_address SET verified = 1");
      h.takeSignals();
      h.takeMails();
      const rows = await emailRows(h);
      await refused(
        () => client.request("PATCH", "account/email", { email: "second@example.com", primary }),
        [{ param: "primary", code }],
      );
      expect(await emailRows(h)).toEqual(rows);
    });

    it("no primary at all", async () => {
      await openLoggedIn();
      await refused(() => client.request("PATCH", "account/email", { email: "ann@example.com" }), [
        { param: "primary", code: "required" },
      ]);
    });
  });
});

describe("POST account/password/change", () => {
  const newPassword = "another long passphrase 77";
  let client: Client;
  const send = (body: unknown, c: Client = client) => c.request("POST", "account/password/change", body);
  /** The change_password limit is taken first; a current password that is sent is checked. */
  const refused = (s: () => Promise<ClientResponse>, expected: Expected, verifies = 0) =>
    expectRefused(s, expected, { limited: true, verifies });

  async function openLoggedIn(): Promise<void> {
    await open();
    client = h.app();
    await member(client);
  }

  it("control: a valid change verifies, hashes, signals and takes one rate-limit hit", async () => {
    await openLoggedIn();
    const before = await counts();
    expect((await send({ current_password: goodPassword, new_password: newPassword })).status).toBe(200);
    expect([spy.verifies, spy.hashes]).toEqual([1, 1]);
    expect(h.takeSignals()).toEqual(["password_changed"]);
    expect(await counts()).toEqual({ ...before, auth_rate_limit: before["auth_rate_limit"]! + 1 });
  });

  it.each([
    ["empty object", {}, ["current_password", "new_password"]],
    ["empty body", "", ["current_password", "new_password"]],
    ["no new password", { current_password: goodPassword }, ["new_password"]],
    ["no current password", { new_password: newPassword }, ["current_password"]],
    ["nulls", { current_password: null, new_password: null }, ["current_password", "new_password"]],
    ["empty strings", { current_password: "", new_password: "" }, ["current_password", "new_password"]],
  ] as const)("missing: %s", async (_name, body, params) => {
    await openLoggedIn();
    // A current password that is sent is still checked, as allauth cleans every field.
    const checked = typeof body === "object" && "current_password" in body && body.current_password ? 1 : 0;
    await refused(() => send(body), params.map((param) => ({ param, code: "required" })), checked);
  });

  it.each([
    ["password", goodPassword],
    ["new_password2", newPassword],
    ["oldpassword", goodPassword],
    ["user_id", "someone-else"],
    ["logout_other_sessions", false],
  ])("unknown field %s is ignored", async (field, value) => {
    await expectIgnored(openLoggedIn, (body) => send(body), () => ({ current_password: goodPassword, new_password: newPassword }), {
      [field]: value,
    });
  });

  describe.each(["current_password", "new_password"] as const)("%s of the wrong type", (field) => {
    it.each(notStrings)("%s", async (_name, value, code) => {
      await openLoggedIn();
      // A type error stops at the body; a missing new password still has the current one checked.
      const checked = code === "required" && field === "new_password" ? 1 : 0;
      await refused(() => send({ current_password: goodPassword, new_password: newPassword, [field]: value }), [
        { param: field, code },
      ], checked);
    });
  });

  it.each(malformed)("malformed body: %s", async (_name, body) => {
    await openLoggedIn();
    await refused(() => send(body), invalidBody);
  });

  it("a 1 MiB body, and a 1 MiB new password", async () => {
    await openLoggedIn();
    await refused(() => send({ current_password: goodPassword, new_password: newPassword, padding: mib }), invalidBody);
    await refused(() => send({ current_password: goodPassword, new_password: mib }), invalidBody);
  });

  it("a 1025-character new password is refused before the hasher", async () => {
    await openLoggedIn();
    await refused(() => send({ current_password: goodPassword, new_password: "y".repeat(1025) }), [
      { param: "new_password", code: "max_length" },
    ]);
  });

  it("the stored password is unchanged and still logs in afterwards", async () => {
    await openLoggedIn();
    const [before] = await h.query<{ password: string }>("SELECT password FROM auth_user");
    await refused(() => send({ current_password: goodPassword, new_password: [newPassword] }), [
      { param: "new_password", code: "invalid" },
    ]);
    await refused(() => send(`{"current_password": "${goodPassword}", "new_password": "${newPassword}"`), invalidBody);
    const [after] = await h.query<{ password: string }>("SELECT password FROM auth_user");
    expect(after!.password).toBe(before!.password);
    expect((await h.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
  });

  it("the browser client gets the same answers", async () => {
    await open();
    const browser = h.browser();
    await member(browser);
    await refused(() => send("nul", browser), invalidBody);
    await refused(() => send({ new_password: newPassword }, browser), [{ param: "current_password", code: "required" }]);
  });
});

/** An existing account, so a request that slipped through would mail it. */
async function openWithMember(account: AccountConfig = {}): Promise<void> {
  await open(account);
  await member(h.app());
}

describe.each([
  { path: "auth/password/request", account: {} },
  { path: "auth/code/request", account: { loginByCodeEnabled: true } },
] as const)("POST $path", ({ path, account }) => {
  const send = (body: unknown, c: Client = h.app()) => c.request("POST", path, body);

  it("control: a valid request mails the account", async () => {
    await openWithMember(account);
    const res = await send({ email: "ann@example.com" });
    expect([200, 401]).toContain(res.status);
    expect(h.takeMails().map((m) => m.to)).toEqual(["ann@example.com"]);
  });

  it.each([
    ["empty object", {}],
    ["empty body", ""],
    ["null", { email: null }],
    ["empty string", { email: "" }],
  ] as const)("missing email: %s", async (_name, body) => {
    await openWithMember(account);
    await expectRefused(() => send(body), [{ param: "email", code: "required" }]);
  });

  it.each([
    ["emails", ["ann@example.com"]],
    ["username", "ann"],
    ["cc", "evil@evil.test"],
    ["user_id", "someone"],
  ])("unknown field %s is ignored", async (field, value) => {
    await expectIgnored(() => openWithMember(account), (body) => send(body), () => ({ email: "ann@example.com" }), { [field]: value });
  });

  it.each(notStrings)("email as %s", async (_name, value, code) => {
    await openWithMember(account);
    await expectRefused(() => send({ email: value }), [{ param: "email", code }]);
  });

  it.each(malformed)("malformed body: %s", async (_name, body) => {
    await openWithMember(account);
    await expectRefused(() => send(body), invalidBody);
  });

  it("a 1 MiB body", async () => {
    await openWithMember(account);
    await expectRefused(() => send({ email: "ann@example.com", padding: mib }), invalidBody);
  });

  it.each(badAddresses)("invalid address: %s", async (_name, email) => {
    await openWithMember(account);
    await expectRefused(() => send({ email }), [{ param: "email", code: "invalid" }]);
  });

  it("the browser client gets the same answers", async () => {
    await openWithMember(account);
    const browser = h.browser();
    await expectRefused(() => send({ email: ["ann@example.com", "evil@evil.test"] }, browser), [{ param: "email", code: "invalid" }]);
    await expectRefused(() => send({ email: "ann@example.com,evil@evil.test" }, browser), [{ param: "email", code: "invalid" }]);
  });
});

describe("auth/password/reset", () => {
  const newPassword = "a brand new passphrase 01";
  let key: string;

  /** A member with a live reset key from its mail; everything recorded cleared. */
  async function openWithKey(): Promise<void> {
    await openWithMember();
    expect((await h.app().request("POST", "auth/password/request", { email: "ann@example.com" })).status).toBe(200);
    key = decodeURIComponent(/password\/reset\/key\/(\S+)/.exec(h.takeMails()[0]!.text)![1]!);
    h.takeSignals();
    spy.reset();
  }

  /** The key was neither used nor spoiled: it is still unused, and a GET still shows its user. */
  async function expectKeyLive(): Promise<void> {
    const rows = await h.query<{ used_at: number | null }>("SELECT used_at FROM auth_verification WHERE purpose = 'password_reset'");
    expect(rows.map((r) => r.used_at)).toEqual([null]);
    const res = await h.app().request("GET", "auth/password/reset", undefined, { "x-password-reset-key": key });
    expect(res.status).toBe(200);
    expect(res.body.data.user.email).toBe("ann@example.com");
  }

  describe("POST", () => {
    const send = (body: unknown, c: Client = h.app()) => c.request("POST", "auth/password/reset", body);
    // allauth's decorator takes the `reset_password_from_key` hit before the body is read.
    const refused = (s: () => Promise<ClientResponse>, expected: Expected) => expectRefused(s, expected, { limited: true });

    it.each([
      ["empty object", (): unknown => ({}), ["key", "password"]],
      ["empty body", (): unknown => "", ["key", "password"]],
      ["no password", (): unknown => ({ key }), ["password"]],
      ["no key", (): unknown => ({ password: newPassword }), ["key"]],
      ["nulls", (): unknown => ({ key: null, password: null }), ["key", "password"]],
      ["empty strings", (): unknown => ({ key: "", password: "" }), ["key", "password"]],
    ] as const)("missing: %s", async (_name, body, params) => {
      await openWithKey();
      await refused(() => send(body()), params.map((param) => ({ param, code: "required" })));
      await expectKeyLive();
    });

    it.each([
      ["email", "evil@evil.test"],
      ["password2", newPassword],
      ["user_id", "someone"],
      ["uid", "1"],
    ])("unknown field %s next to the right key is ignored", async (field, value) => {
      await expectIgnored(openWithKey, (body) => send(body), () => ({ key, password: newPassword }), { [field]: value });
    });

    describe.each(["key", "password"] as const)("%s of the wrong type", (field) => {
      it.each(notStrings)("%s", async (_name, value, code) => {
        await openWithKey();
        await refused(() => send({ key, password: newPassword, [field]: value }), [{ param: field, code }]);
        await expectKeyLive();
      });

      it("an array holding the right value", async () => {
        await openWithKey();
        const value = field === "key" ? [key] : [newPassword];
        await refused(() => send({ key, password: newPassword, [field]: value }), [{ param: field, code: "invalid" }]);
        await expectKeyLive();
      });
    });

    it.each(malformed)("malformed body: %s", async (_name, body) => {
      await openWithKey();
      await refused(() => send(body), invalidBody);
      await expectKeyLive();
    });

    it("a 1 MiB body holding the right key", async () => {
      await openWithKey();
      await refused(() => send({ key, password: newPassword, padding: mib }), invalidBody);
      await expectKeyLive();
    });

    it("a 257-character key, and a 1025-character password, before the rate limit and the hasher", async () => {
      await openWithKey();
      await refused(() => send({ key: key.padEnd(257, "A"), password: newPassword }), [{ param: "key", code: "max_length" }]);
      await refused(() => send({ key, password: "z".repeat(1025) }), [{ param: "password", code: "max_length" }]);
      await expectKeyLive();
    });

    it("the browser client gets the same answers", async () => {
      await openWithKey();
      const browser = h.browser();
      await refused(() => send(`{"key": "${key}", "password": `, browser), invalidBody);
      await refused(() => send({ key: { $ne: null }, password: newPassword }, browser), [{ param: "key", code: "invalid" }]);
      await expectKeyLive();
    });
  });

  describe("GET with X-Password-Reset-Key", () => {
    const get = (headers: Record<string, string>) => h.app().request("GET", "auth/password/reset", undefined, headers);

    it("control: the right key shows its user", async () => {
      await openWithKey();
      const res = await get({ "x-password-reset-key": key });
      expect(res.status).toBe(200);
      expect(res.body.data.user.email).toBe("ann@example.com");
    });

    it.each([
      ["no header", () => ({}), "required"],
      ["an empty header", () => ({ "x-password-reset-key": "" }), "required"],
      ["blanks", () => ({ "x-password-reset-key": "   " }), "required"],
      ["the key in a cookie instead", () => ({ cookie: `x-password-reset-key=${key}` }), "required"],
      ["junk", () => ({ "x-password-reset-key": "not-a-key" }), "invalid_password_reset"],
      ["10 KB of junk", () => ({ "x-password-reset-key": "A".repeat(10_000) }), "invalid_password_reset"],
      ["broken percent-encoding", () => ({ "x-password-reset-key": "%E0%A4%A" }), "invalid_password_reset"],
      ["the key percent-encoded", () => ({ "x-password-reset-key": encodeURIComponent(`${key}=`) }), "invalid_password_reset"],
      ["the key upper-cased", () => ({ "x-password-reset-key": key.toUpperCase() }), "invalid_password_reset"],
      ["the key truncated", () => ({ "x-password-reset-key": key.slice(0, -1) }), "invalid_password_reset"],
      ["the key twice", () => ({ "x-password-reset-key": `${key}, ${key}` }), "invalid_password_reset"],
      ["the key as JSON", () => ({ "x-password-reset-key": JSON.stringify([key]) }), "invalid_password_reset"],
      ["latin-1 bytes", () => ({ "x-password-reset-key": "\u00ff\u00fe\u00e9" }), "invalid_password_reset"],
    ])("%s → %s", async (_name, headers, code) => {
      await openWithKey();
      await expectRefused(() => get(headers()), [{ param: "key", code }]);
      await expectKeyLive();
    });
  });
});

describe("POST auth/code/confirm", () => {
  let client: Client;
  let code: string;
  const send = (body: unknown, c: Client = client) => c.request("POST", "auth/code/confirm", body);

  /** A pending login by code in `client`'s session, with its code. */
  async function openPending(): Promise<void> {
    await openWithMember({ loginByCodeEnabled: true });
    client = h.app();
    expect((await client.request("POST", "auth/code/request", { email: "ann@example.com" })).status).toBe(401);
    code = codeFromMail(h.takeMails()[0]!);
    h.takeSignals();
    spy.reset();
  }

  /** `attempts` were spent (counted on the flow), and the right code still logs in. */
  async function expectStillPending(attempts = 0): Promise<void> {
    const rows = await h.query<{ attempts: number }>("SELECT attempts FROM auth_flow WHERE kind = 'login-by-code'");
    expect(rows.map((r) => Number(r.attempts))).toEqual([attempts]);
    const res = await send({ code });
    expect(res.status).toBe(200);
    expect(h.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]); // the code verified the address
  }

  it.each([
    ["empty object", (): unknown => ({})],
    ["empty body", (): unknown => ""],
    ["null", (): unknown => ({ code: null })],
    ["empty string", (): unknown => ({ code: "" })],
  ] as const)("missing code: %s (counted, as allauth counts it)", async (_name, body) => {
    await openPending();
    await expectRefused(() => send(body()), [{ param: "code", code: "required" }]);
    await expectStillPending(1);
  });

  it.each([
    ["email", "ann@example.com"],
    ["user_id", "someone"],
    ["attempts", 0],
  ])("unknown field %s next to the right code is ignored", async (field, value) => {
    await expectIgnored(openPending, (body) => send(body), () => ({ code }), { [field]: value });
  });

  it.each(notStrings)("code as %s", async (_name, value, expected) => {
    await openPending();
    await expectRefused(() => send({ code: value }), [{ param: "code", code: expected }]);
    // A null code is a missing one: checked, and counted.
    await expectStillPending(expected === "required" ? 1 : 0);
  });

  it("the right code inside an array, or as a bare JSON string", async () => {
    await openPending();
    await expectRefused(() => send({ code: [code] }), [{ param: "code", code: "invalid" }]);
    await expectRefused(() => send(JSON.stringify(code)), invalidBody);
    await expectStillPending();
  });

  it.each(malformed)("malformed body: %s", async (_name, body) => {
    await openPending();
    await expectRefused(() => send(body), invalidBody);
    await expectStillPending();
  });

  it("a 1 MiB body holding the right code, and a 65-character code", async () => {
    await openPending();
    await expectRefused(() => send({ code, padding: mib }), invalidBody);
    // A code longer than any code is a wrong code (counted), as in allauth.
    await expectRefused(() => send({ code: code.padEnd(65, "B") }), [{ param: "code", code: "incorrect_code" }]);
    await expectStillPending(1);
  });
});

describe("POST auth/reauthenticate", () => {
  let client: Client;
  const send = (body: unknown, c: Client = client) => c.request("POST", "auth/reauthenticate", body);
  /** The reauthenticate limit is taken before the body is read (allauth's decorator). */
  const refused = (s: () => Promise<ClientResponse>, expected: Expected) => expectRefused(s, expected, { limited: true });

  async function openLoggedIn(): Promise<void> {
    await open();
    client = h.app();
    await member(client);
  }

  /** The session gained no authentication record (a signup records none), and the right password still works. */
  async function expectNotReauthenticated(): Promise<void> {
    expect((await client.request("GET", "auth/session")).body.data.methods).toEqual([]);
    expect((await send({ password: goodPassword })).status).toBe(200);
    expect(spy.verifies).toBe(1);
  }

  it.each([
    ["empty object", {}],
    ["empty body", ""],
    ["null", { password: null }],
    ["empty string", { password: "" }],
  ] as const)("missing password: %s", async (_name, body) => {
    await openLoggedIn();
    await refused(() => send(body), [{ param: "password", code: "required" }]);
    await expectNotReauthenticated();
  });

  it.each([
    ["email", "ann@example.com"],
    ["username", "ann"],
    ["current_password", goodPassword],
    ["methods", [{ method: "password" }]],
  ])("unknown field %s next to the right password is ignored", async (field, value) => {
    await expectIgnored(openLoggedIn, (body) => send(body), () => ({ password: goodPassword }), { [field]: value });
  });

  it.each([...notStrings, ["the right password in an array", [goodPassword], "invalid"] as const])(
    "password as %s",
    async (_name, value, code) => {
      await openLoggedIn();
      await refused(() => send({ password: value }), [{ param: "password", code }]);
      await expectNotReauthenticated();
    },
  );

  it.each(malformed)("malformed body: %s", async (_name, body) => {
    await openLoggedIn();
    await refused(() => send(body), invalidBody);
    await expectNotReauthenticated();
  });

  it("a 1 MiB password, and a 1025-character one, never reach the hasher", async () => {
    await openLoggedIn();
    await refused(() => send({ password: mib }), invalidBody);
    await refused(() => send({ password: "w".repeat(1025) }), [{ param: "password", code: "max_length" }]);
    await expectNotReauthenticated();
  });

  it("the browser client gets the same answers", async () => {
    await open();
    client = h.browser();
    await member(client);
    await refused(() => send("[]"), invalidBody);
    await refused(() => send({ password: true }), [{ param: "password", code: "invalid" }]);
    await expectNotReauthenticated();
  });
});

describe("DELETE auth/sessions", () => {
  let client: Client;
  let other: Client;
  let otherId: number;
  const send = (body: unknown, c: Client = client) => c.request("DELETE", "auth/sessions", body);

  /** Two sessions of one user; `otherId` is the second one's API id. */
  async function openTwoSessions(): Promise<void> {
    await open();
    client = h.app();
    await member(client);
    other = h.app();
    expect((await other.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();
    spy.reset();
    const list = await client.request("GET", "auth/sessions");
    otherId = (list.body.data as Array<{ id: number; is_current: boolean }>).find((s) => !s.is_current)!.id;
  }

  async function expectBothAlive(): Promise<void> {
    expect((await other.request("GET", "auth/session")).status).toBe(200);
    expect((await client.request("GET", "auth/sessions")).body.data).toHaveLength(2);
  }

  it("control: ending the other session by its id", async () => {
    await openTwoSessions();
    const res = await send({ sessions: [otherId] });
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    expect((await other.request("GET", "auth/session")).status).toBe(410);
  });

  it.each([
    ["empty object", {}],
    ["empty body", ""],
    ["null", { sessions: null }],
    ["empty string", { sessions: "" }],
  ] as const)("missing sessions: %s", async (_name, body) => {
    await openTwoSessions();
    await expectRefused(() => send(body), [{ param: "sessions", code: "required" }]);
    await expectBothAlive();
  });

  it.each([
    ["all", true],
    ["session", 1],
    ["user_id", "someone"],
  ])("unknown field %s next to the other session's id is ignored", async (field, value) => {
    await expectIgnored(openTwoSessions, (body) => send(body), () => ({ sessions: [otherId] }), { [field]: value });
  });

  it.each([
    ["the id as a number", (): unknown => otherId, "invalid_list", undefined],
    ["the id as a string", (): unknown => String(otherId), "invalid_list", undefined],
    ["an object", (): unknown => ({ id: otherId }), "invalid_list", undefined],
    ["true", (): unknown => true, "invalid_list", undefined],
    ["101 ids", (): unknown => Array.from({ length: 101 }, () => otherId), "invalid_list", undefined],
    ["a nested array", (): unknown => [[otherId]], "invalid_pk_value", (): unknown => `[${otherId}]`],
    ["an array holding an object", (): unknown => [{ id: otherId }], "invalid_pk_value", (): unknown => `{"id":${otherId}}`],
    ["an array holding a word", (): unknown => [otherId, "abc"], "invalid_pk_value", (): unknown => "abc"],
    ["an array holding null", (): unknown => [otherId, null], "invalid_choice", (): unknown => "None"],
    ["an array holding true", (): unknown => [otherId, true], "invalid_choice", (): unknown => "True"],
    ["a fraction", (): unknown => [otherId + 0.5], "invalid_choice", (): unknown => String(otherId + 0.5)],
    ["an unsafe integer", (): unknown => [2 ** 53], "invalid_choice", (): unknown => String(2 ** 53)],
    ["an id of no session", (): unknown => [otherId + 1000], "invalid_choice", (): unknown => String(otherId + 1000)],
  ] as ReadonlyArray<readonly [string, () => unknown, string, (() => string) | undefined]>)("sessions as %s → %s", async (_name, value, code, shown) => {
    await openTwoSessions();
    const res = await expectRefused(() => send({ sessions: value() }), [{ param: "sessions", code }]);
    const messages: Record<string, string> = {
      invalid_list: "Enter a list of values.",
      invalid_pk_value: `\u201c${shown?.()}\u201d is not a valid value.`,
      invalid_choice: `Select a valid choice. ${shown?.()} is not one of the available choices.`,
    };
    expect(res.body.errors[0].message).toBe(messages[code]);
    await expectBothAlive();
  });

  it("the id as a numeric string inside the list is the id, as Django reads it", async () => {
    await openTwoSessions();
    const res = await send({ sessions: [String(otherId)] });
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    expect((await other.request("GET", "auth/session")).status).toBe(410);
  });

  it.each(malformed)("malformed body: %s", async (_name, body) => {
    await openTwoSessions();
    await expectRefused(() => send(body), invalidBody);
    await expectBothAlive();
  });

  it("a 1 MiB body holding the other session's id", async () => {
    await openTwoSessions();
    await expectRefused(() => send({ sessions: [otherId], padding: mib }), invalidBody);
    await expectBothAlive();
  });

  it("the browser client gets the same answers", async () => {
    await open();
    client = h.browser();
    await member(client);
    other = h.app();
    expect((await other.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();
    await expectRefused(() => send("{"), invalidBody);
    await expectRefused(() => send({ sessions: "all" }), [{ param: "sessions", code: "invalid_list" }]);
    await expectBothAlive();
  });
});
