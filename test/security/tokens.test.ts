/**
 * Verification keys and codes (SECURITY.md §5 TK-01..TK-04, TK-08, TK-10..TK-13; §12): 256-bit
 * URL-safe keys stored only as keyed digests, single use even under concurrency, three days of
 * life, bound to the address they were mailed to, purpose-typed (a code is no key and a key no
 * code), wrong-typed or blank keys matching
 * nothing, GET changing nothing, and no password, key or code in signals, snapshots, rows or
 * error messages.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestClock, TestContext } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { normalizeCode } from "../../src/services/tokens.ts";
import { codeFromMail, goodPassword, harness, keyFromMail } from "../support/harness.ts";
import type { Client, ClientResponse, Harness, Recorded } from "../support/harness.ts";

const fastHasher = {
  hash: async (p: string) => `fast$${createHash("sha256").update(p).digest("hex")}`,
  verify: async (h: string, p: string) => h === `fast$${createHash("sha256").update(p).digest("hex")}`,
};

const opened: Array<Harness> = [];
const dirs: Array<string> = [];
let reports: Array<string>;

afterEach(async () => {
  for (const h of opened.splice(0)) {
    await h.close();
  }
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function open(
  account: AuthConfig["account"],
  options: { testClock?: boolean; hasher?: "argon2id" | typeof fastHasher; database?: string } = {},
): Promise<Harness> {
  reports = [];
  const h = await harness(
    {
      passwordHasher: options.hasher ?? fastHasher,
      account: { loginMethods: ["email"], emailVerification: "mandatory", ...account },
      ...(options.database === undefined ? {} : { database: options.database }),
    },
    {
      report: (message, error) => void reports.push(`${message}: ${error instanceof Error ? error.stack : String(error)}`),
      ...(options.testClock === true ? { layer: TestContext.TestContext } : {}),
    },
  );
  opened.push(h);
  return h;
}

/** Signs up `email` from a fresh app client and returns the client and the link key (or code). */
async function pendingSignup(h: Harness, email = "alice@example.com", password = goodPassword) {
  const client = h.app();
  const res = await client.request("POST", "auth/signup", { email, password });
  expect(res.status).toBe(401);
  const mail = h.takeMails().find((m) => m.to === email);
  expect(mail).toBeDefined();
  const signals = [...h.signals];
  h.takeSignals();
  return { client, mail: mail!, signals };
}

function verify(client: Client, key: unknown): Promise<ClientResponse> {
  return client.request("POST", "auth/email/verify", { key });
}

async function verified(h: Harness, email = "alice@example.com"): Promise<boolean> {
  const [row] = await h.query<{ verified: number }>("SELECT verified FROM auth_email_address WHERE email = ?", email);
  return Number(row!.verified) === 1;
}

const tables = ["auth_user", "auth_email_address", "auth_session", "auth_verification", "auth_rate_limit", "auth_flow"];

async function counts(h: Harness): Promise<Array<number>> {
  return Promise.all(tables.map((t) => h.count(t)));
}

/** Every row of every table, as one string. */
async function dump(h: Harness): Promise<string> {
  const parts: Array<string> = [];
  for (const name of (await h.tableNames()).sort()) {
    parts.push(JSON.stringify(await h.query(`SELECT * FROM ${name}`)));
  }
  return parts.join("\n");
}

/** A signal as a receiver could log it: its own fields plus the request's plain ones. */
function serialise(signal: Recorded): string {
  const { request, response: _response, ...rest } = signal;
  return JSON.stringify({
    ...rest,
    request: {
      client: request.client,
      ip: request.ip,
      userAgent: request.userAgent,
      user: request.user,
      sessionId: request.sessionId,
      url: request.request.url,
      headers: [...request.request.headers],
    },
  });
}

function expectInvalidKey(res: ClientResponse): void {
  expect(res.status).toBe(400);
  expect(res.body.errors).toEqual([{ param: "key", code: "invalid_or_expired_key", message: "Invalid or expired key." }]);
}

describe("keys are 256-bit, URL-safe and stored only as keyed digests (TK-01, TK-02)", () => {
  it("the mailed key is 43 base64url characters decoding to 32 bytes, and unique", async () => {
    const h = await open({});
    const keys = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const { mail } = await pendingSignup(h, `user${i}@example.com`);
      const key = keyFromMail(mail);
      expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(key, "base64url")).toHaveLength(32);
      keys.add(key);
    }
    expect(keys.size).toBe(5);
  });

  it("no table holds the raw key; the digest is keyed (not a bare SHA-256) and is useless as a key", async () => {
    const h = await open({});
    const { mail, client } = await pendingSignup(h);
    const key = keyFromMail(mail);
    const all = await dump(h);
    expect(all).not.toContain(key);
    const [row] = await h.query<{ digest: string }>("SELECT digest FROM auth_verification");
    expect(row!.digest).not.toBe(key);
    for (const plain of [key, `email_confirmation:${key}`]) {
      expect(row!.digest).not.toBe(createHash("sha256").update(plain).digest("base64url"));
      expect(row!.digest).not.toBe(createHash("sha256").update(plain).digest("hex"));
    }
    expectInvalidKey(await verify(client, row!.digest));
    expect(await verified(h)).toBe(false);
  });
});

describe("single use (TK-03, TK-11)", () => {
  it("a key works once; the second POST is refused, changes nothing and signals nothing", async () => {
    const h = await open({});
    const { mail } = await pendingSignup(h);
    const key = keyFromMail(mail);
    const first = await verify(h.app(), key);
    expect(first.status).toBe(401);
    expect(h.takeSignals()).toEqual(["email_confirmed"]);
    expect(await verified(h)).toBe(true);
    // Proved outside the signup's session: the signup's password is dropped, and the address told.
    expect(h.takeMails().map((m) => m.subject)).toEqual(["[example.com] Account Secured"]);

    const before = await counts(h);
    const [usedBefore] = await h.query<{ used_at: number }>("SELECT used_at FROM auth_verification");
    const second = await verify(h.app(), key);
    expectInvalidKey(second);
    expect(h.takeSignals()).toEqual([]);
    expect(await counts(h)).toEqual(before);
    const [usedAfter] = await h.query<{ used_at: number }>("SELECT used_at FROM auth_verification");
    expect(usedAfter!.used_at).toBe(usedBefore!.used_at);
    expect(h.mails).toEqual([]);
  });

  it("two concurrent POSTs of one key: exactly one email_confirmed", async () => {
    const h = await open({});
    const { mail } = await pendingSignup(h);
    const key = keyFromMail(mail);
    const results = await Promise.all([verify(h.app(), key), verify(h.app(), key), verify(h.app(), key)]);
    expect(h.takeSignals().filter((s) => s === "email_confirmed")).toHaveLength(1);
    expect(results.filter((r) => r.status === 400)).toHaveLength(2);
    expect(results.filter((r) => r.status === 401)).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 400)) {
      expect(r.body.errors[0]).toMatchObject({ param: "key", code: "invalid_or_expired_key" });
    }
    expect(await verified(h)).toBe(true);
    expect(reports).toEqual([]);
  });

  it("two instances on one SQLite file (two connections, WAL) racing one key: exactly one email_confirmed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "authmachines-race-"));
    dirs.push(dir);
    const database = `sqlite:${join(dir, "auth.db")}`;
    const a = await open({}, { database });
    const b = await open({}, { database });
    for (let round = 0; round < 5; round++) {
      const email = `racer${round}@example.com`;
      const { mail } = await pendingSignup(a, email);
      const key = keyFromMail(mail);
      const results = await Promise.all([verify(a.app(), key), verify(b.app(), key), verify(a.app(), key), verify(b.app(), key)]);
      const confirmed = [...a.takeSignals(), ...b.takeSignals()].filter((s) => s === "email_confirmed");
      expect(confirmed, `round ${round}`).toHaveLength(1);
      expect(results.filter((r) => r.status === 401)).toHaveLength(1);
      expect(results.filter((r) => r.status === 400)).toHaveLength(3);
      expect(await verified(a, email)).toBe(true);
    }
    expect(reports).toEqual([]);
  });

  it("concurrent POSTs from the signup session log in at most once", async () => {
    const h = await open({});
    const { mail, client } = await pendingSignup(h);
    const key = keyFromMail(mail);
    await Promise.all([verify(client, key), verify(client, key)]);
    const names = h.takeSignals();
    expect(names.filter((s) => s === "email_confirmed")).toHaveLength(1);
    expect(names.filter((s) => s === "user_logged_in").length).toBeLessThanOrEqual(1);
    expect(reports).toEqual([]);
  });
});

describe("expiry (TK-04, EN-09)", () => {
  const threeDays = 3 * 86_400_000;

  it("3 days + 1 s after sending, the key is refused like a key that never existed", async () => {
    const h = await open({}, { testClock: true });
    const { mail } = await pendingSignup(h);
    await h.auth.runtime.runPromise(TestClock.adjust(threeDays + 1000));
    const before = await counts(h);
    const expired = await verify(h.app(), keyFromMail(mail));
    expectInvalidKey(expired);
    const unknown = await verify(h.app(), "A".repeat(43));
    expect(expired.body).toEqual(unknown.body);
    expect(h.takeSignals()).toEqual([]);
    expect(await counts(h)).toEqual(before);
    expect(await verified(h)).toBe(false);
    // GET says the same
    const info = await h.app().request("GET", "auth/email/verify", undefined, { "x-email-verification-key": keyFromMail(mail) });
    expect(info.status).toBe(400);
  });

  it("3 days − 1 s after sending, the key still works", async () => {
    const h = await open({}, { testClock: true });
    const { mail } = await pendingSignup(h);
    await h.auth.runtime.runPromise(TestClock.adjust(threeDays - 1000));
    const res = await verify(h.app(), keyFromMail(mail));
    expect(res.status).toBe(401);
    expect(h.takeSignals()).toEqual(["email_confirmed"]);
    expect(await verified(h)).toBe(true);
  });

  it("a configured lifetime is honoured (1 day)", async () => {
    const h = await open({ emailConfirmationExpireDays: 1 }, { testClock: true });
    const { mail } = await pendingSignup(h);
    await h.auth.runtime.runPromise(TestClock.adjust(86_400_000 + 1000));
    expectInvalidKey(await verify(h.app(), keyFromMail(mail)));
    expect(await verified(h)).toBe(false);
  });

  it("code mode: a code is refused after its 15 minutes and accepted just before", async () => {
    const late = await open({ emailVerificationByCodeEnabled: true }, { testClock: true });
    const a = await pendingSignup(late);
    await late.auth.runtime.runPromise(TestClock.adjust(900_000 + 1000));
    const refused = await verify(a.client, codeFromMail(a.mail));
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(late.takeSignals()).toEqual([]);
    expect(await verified(late)).toBe(false);

    const early = await open({ emailVerificationByCodeEnabled: true }, { testClock: true });
    const b = await pendingSignup(early);
    await early.auth.runtime.runPromise(TestClock.adjust(900_000 - 1000));
    const accepted = await verify(b.client, codeFromMail(b.mail));
    expect(accepted.status).toBe(200);
    expect(early.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
  });
});

describe("a key is bound to the address it was mailed to, not to a row (TK-10)", () => {
  it("changeEmail: after the pending address moves from A to B, A's link verifies neither; B's own link verifies B", async () => {
    const h = await open({ emailVerification: "optional", changeEmail: true, maxEmailAddresses: 2 });
    const client = h.app();
    expect((await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    await h.query("UPDATE auth_email_address SET verified = 1");
    h.takeMails();
    h.takeSignals();
    const links: Record<string, string> = {};
    for (const email of ["a@attacker.example", "victim@example.com"]) {
      expect((await client.request("POST", "account/email", { email })).status).toBe(200);
      const [mail] = h.takeMails();
      expect(mail!.to).toBe(email);
      links[email] = keyFromMail(mail!);
    }
    h.takeSignals();
    const before = await counts(h);
    expectInvalidKey(await verify(h.app(), links["a@attacker.example"]));
    expect(await counts(h)).toEqual(before);
    expect(h.takeSignals()).toEqual([]);
    expect(await verified(h, "victim@example.com")).toBe(false);
    expect(await h.query("SELECT email FROM auth_email_address WHERE email = 'a@attacker.example'")).toEqual([]);

    expect((await verify(client, links["victim@example.com"])).status).toBe(200);
    expect(h.takeSignals()).toEqual(["email_confirmed", "email_changed"]);
    expect(await verified(h, "victim@example.com")).toBe(true);
  });
});

describe("purpose-typed: a code is no key, a key is no code (TK-08)", () => {
  /** A link-mode and a code-mode instance over one database and one secret. */
  async function pair() {
    const dir = mkdtempSync(join(tmpdir(), "authmachines-tokens-"));
    dirs.push(dir);
    const database = `sqlite:${join(dir, "auth.db")}`;
    const link = await open({}, { database });
    const code = await open({ emailVerificationByCodeEnabled: true }, { database });
    return { link, code };
  }

  it("a code-mode code submitted as a link key is refused", async () => {
    const { link, code } = await pair();
    const { mail } = await pendingSignup(code, "coder@example.com");
    const theCode = codeFromMail(mail);
    for (const attempt of [theCode, normalizeCode(theCode), theCode.toLowerCase()]) {
      expectInvalidKey(await verify(link.app(), attempt));
    }
    expect(link.takeSignals()).toEqual([]);
    expect(await verified(link, "coder@example.com")).toBe(false);
  });

  it("a link key submitted as a code is refused, and the real code still works", async () => {
    const { link, code } = await pair();
    const coder = await pendingSignup(code, "coder@example.com");
    const linker = await pendingSignup(link, "linker@example.com");
    const key = keyFromMail(linker.mail);
    const res = await verify(coder.client, key);
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ param: "key", code: "incorrect_code" });
    expect(code.takeSignals()).toEqual([]);
    expect(await verified(code, "linker@example.com")).toBe(false);
    expect(await verified(code, "coder@example.com")).toBe(false);
    // the link key is still good for its own purpose, and the code for its own
    expect((await verify(coder.client, codeFromMail(coder.mail))).status).toBe(200);
    expect((await verify(link.app(), key)).status).toBe(401);
    expect(await verified(link, "linker@example.com")).toBe(true);
  });

  it("a session token is not a verification key", async () => {
    const h = await open({ emailVerification: "none" });
    const app = h.app();
    await app.request("POST", "auth/signup", { email: "alice@example.com", password: goodPassword });
    expect(app.token).toEqual(expect.any(String));
    expectInvalidKey(await verify(h.app(), app.token));
  });
});

describe("blank and wrong-typed keys never match (TK-12)", () => {
  it.each([
    ["empty string", "", "required"],
    ["blank (stripped)", " ", "required"],
    ["null", null, "required"],
    ["empty array", [], "required"],
    ["empty object", {}, "required"],
    ["zero", 0, "invalid"],
    ["false", false, "invalid"],
  ])("link mode: %s → 400 %s, no writes", async (_name, key, code) => {
    const h = await open({});
    await pendingSignup(h);
    const before = await counts(h);
    const res = await verify(h.app(), key);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ param: "key", code, message: expect.any(String) }]);
    expect(await counts(h)).toEqual(before);
    expect(h.signals).toEqual([]);
    expect(await verified(h)).toBe(false);
    const [v] = await h.query<{ used_at: number | null }>("SELECT used_at FROM auth_verification");
    expect(v!.used_at).toBeNull();
  });

  it.each([
    ["empty string", "", "required"],
    ["null", null, "required"],
    ["empty array", [], "required"],
    ["empty object", {}, "required"],
    ["zero", 0, "invalid"],
    ["false", false, "invalid"],
  ])("code mode: %s → 400 %s, no writes; a missing code uses an attempt (allauth), a wrong type none", async (_name, key, code) => {
    const h = await open({ emailVerificationByCodeEnabled: true });
    const { client, mail } = await pendingSignup(h);
    const before = await counts(h);
    const res = await verify(client, key);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ param: "key", code, message: expect.any(String) }]);
    expect(await counts(h)).toEqual(before);
    expect(h.signals).toEqual([]);
    const used = code === "required" ? 1 : 0;
    expect(await h.query<{ attempts: number }>("SELECT attempts FROM auth_flow")).toEqual([{ attempts: used }]);
    // the other attempts remain: wrong codes up to the limit, then the right one
    for (let i = used; i < 2; i++) {
      expect((await verify(client, "BBBB-BBBB")).status).toBe(400);
    }
    expect((await verify(client, codeFromMail(mail))).status).toBe(200);
  });
});

describe("GET auth/email/verify changes nothing (TK-13)", () => {
  it("a mail scanner's GET with the key header leaves the address unverified and the key unused", async () => {
    const h = await open({});
    const { mail } = await pendingSignup(h);
    const key = keyFromMail(mail);
    const before = await counts(h);
    const rows = await dump(h);
    for (let i = 0; i < 3; i++) {
      const info = await h.browser().request("GET", "auth/email/verify", undefined, { "x-email-verification-key": key });
      expect(info.status).toBe(200);
      expect(info.body.data.email).toBe("alice@example.com");
    }
    expect(await counts(h)).toEqual(before);
    expect(await dump(h)).toBe(rows);
    expect(h.signals).toEqual([]);
    expect(h.mails).toEqual([]);
    expect(await verified(h)).toBe(false);
    // the POST still consumes it
    expect((await verify(h.app(), key)).status).toBe(401);
    expect(await verified(h)).toBe(true);
  });

  it("GET with a wrong, blank or oversized key answers 400 and changes nothing", async () => {
    const h = await open({});
    await pendingSignup(h);
    const rows = await dump(h);
    for (const header of ["", " "]) {
      const info = await h.app().request("GET", "auth/email/verify", undefined, { "x-email-verification-key": header });
      expect(info.status).toBe(400);
      expect(info.body.errors).toEqual([{ param: "key", code: "required", message: "This field is required." }]);
    }
    for (const header of ["A".repeat(43), "A".repeat(300)]) {
      const info = await h.app().request("GET", "auth/email/verify", undefined, { "x-email-verification-key": header });
      expectInvalidKey(info);
    }
    expect(await dump(h)).toBe(rows);
  });
});

describe("secrets stay out of signals, snapshots, rows and errors (§12, LG-03)", () => {
  const password = `Sekrit passphrase ${randomUUID()}`;

  it("code mode: password and codes appear nowhere", async () => {
    const h = await open({ emailVerificationByCodeEnabled: true }, { hasher: "argon2id" });
    const { client, mail, signals: signupSignals } = await pendingSignup(h, "alice@example.com", password);
    const theCode = codeFromMail(mail);
    const wrongCode = theCode === "XZXZ-XZXZ" ? "ZXZX-ZXZX" : "XZXZ-XZXZ";
    const secrets = [password, theCode, normalizeCode(theCode), wrongCode, normalizeCode(wrongCode)];

    const [flow] = await h.query<{ snapshot: string }>("SELECT snapshot FROM auth_flow");
    expect(flow).toBeDefined();
    const wrong = await verify(client, wrongCode);
    expect(wrong.status).toBe(400);
    const [flowAfterWrong] = await h.query<{ snapshot: string }>("SELECT snapshot FROM auth_flow");
    expect((await verify(client, theCode)).status).toBe(200);
    await client.request("DELETE", "auth/session");
    const login = h.app();
    expect((await login.request("POST", "auth/login", { email: "alice@example.com", password: `${password}?` })).status).toBe(400);
    const loginWrong = await h.app().request("POST", "auth/login", { email: "alice@example.com", password: `${password}?` });
    expect((await login.request("POST", "auth/login", { email: "alice@example.com", password })).status).toBe(200);

    const recorded = [...signupSignals, ...h.signals];
    const signals = recorded.map(serialise);
    expect(recorded.map((s) => s.type)).toEqual(
      expect.arrayContaining(["user_signed_up", "email_confirmation_sent", "email_confirmed", "user_logged_in", "user_logged_out"]),
    );
    const places: Record<string, string> = {
      snapshot: flow!.snapshot,
      snapshotAfterWrong: flowAfterWrong!.snapshot,
      signals: signals.join("\n"),
      rows: await dump(h),
      wrongCodeError: JSON.stringify(wrong.body),
      wrongPasswordError: JSON.stringify(loginWrong.body),
      reports: reports.join("\n"),
    };
    for (const [place, text] of Object.entries(places)) {
      for (const secret of [...secrets, `${password}?`]) {
        expect(text.includes(secret), `${place} contains ${secret}`).toBe(false);
      }
    }
  });

  it("link mode: password and keys appear nowhere", async () => {
    const h = await open({}, { hasher: "argon2id" });
    const { mail, signals: signupSignals } = await pendingSignup(h, "alice@example.com", password);
    expect(signupSignals.map((s) => s.type)).toEqual(["user_signed_up", "email_confirmation_sent"]);
    const key = keyFromMail(mail);
    const wrongKey = `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`;
    const wrong = await verify(h.app(), wrongKey);
    expectInvalidKey(wrong);
    const scanner = await h.app().request("GET", "auth/email/verify", undefined, { "x-email-verification-key": wrongKey });
    expect((await verify(h.app(), key)).status).toBe(401);
    const used = await verify(h.app(), key);
    expectInvalidKey(used);
    const loginWrong = await h.app().request("POST", "auth/login", { email: "alice@example.com", password: `${password}!` });
    expect(loginWrong.status).toBe(400);

    const places: Record<string, string> = {
      signals: [...signupSignals, ...h.signals].map(serialise).join("\n"),
      rows: await dump(h),
      errors: [wrong, scanner, used, loginWrong].map((r) => JSON.stringify(r.body)).join("\n"),
      reports: reports.join("\n"),
    };
    for (const [place, text] of Object.entries(places)) {
      for (const secret of [password, key, wrongKey]) {
        expect(text.includes(secret), `${place} contains ${secret}`).toBe(false);
      }
    }
  });

  it("a thrown in-step receiver does not leak the password into the report", async () => {
    const h = await open({}, { hasher: "argon2id" });
    h.auth.signals.on("user_signed_up", () => {
      throw new Error("receiver refused");
    });
    const res = await h.app().request("POST", "auth/signup", { email: "alice@example.com", password });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ status: 500 });
    expect(reports.length).toBeGreaterThan(0);
    expect(reports.join("\n")).not.toContain(password);
    expect(await h.count("auth_user")).toBe(0);
  });
});
