/**
 * Enumeration (SECURITY.md §3 EN-01, EN-02, EN-05, EN-06, EN-07; §8 EM-13): a failed login looks
 * the same whether or not the account exists and costs one verification either way; a signup with
 * a taken address under `preventEnumeration: true` + mandatory verification looks like a fresh
 * signup and mails the owner an "Account Already Exists" notice carrying no link, key or code; a
 * failing mail transport answers reset requests alike; adding another account's address looks
 * like adding a fresh one, and that claim never gets verified.
 */
import { TestClock, TestContext } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Client, ClientResponse, Harness } from "../support/harness.ts";
import { spyHasher } from "../support/spy-hasher.ts";
import type { Spy } from "../support/spy-hasher.ts";


let h: Harness;
let spy: Spy;
let reports: Array<unknown>;

afterEach(async () => {
  await h?.close();
});

async function open(config: Partial<AuthConfig>, testClock = false): Promise<Harness> {
  spy = spyHasher();
  reports = [];
  h = await harness(
    { passwordHasher: spy.hasher, ...config },
    { report: (message, error) => void reports.push([message, error]), ...(testClock ? { layer: TestContext.TestContext } : {}) },
  );
  spy.reset();
  return h;
}

/** Header names and values a client could compare (nothing here is expected to vary). */
function headerShape(res: ClientResponse): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    out[name] = name === "set-cookie" ? value.replace(/=[^;]*/, "=…") : value;
  });
  return out;
}

/** The body with its session token blanked (a fresh random value per session). */
function withoutToken(body: any): unknown {
  const copy = structuredClone(body);
  if (copy?.meta?.session_token !== undefined) {
    copy.meta.session_token = "<token>";
  }
  return copy;
}

function keysDeep(value: unknown, prefix = ""): Array<string> {
  if (value === null || typeof value !== "object") {
    return [prefix];
  }
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => keysDeep(v, `${prefix}.${k}`)).sort();
}

describe("login failure is generic (EN-01, EN-02)", () => {
  const email = "member@example.com";

  async function member(config: Partial<AuthConfig> = {}): Promise<void> {
    await open({ account: { loginMethods: ["email"], emailVerification: "none" }, ...config });
    const res = await h.app().request("POST", "auth/signup", { email, password: goodPassword });
    expect(res.status, JSON.stringify(res.body)).not.toBe(400);
    expect(await h.count("auth_user")).toBe(1);
    h.takeSignals();
    h.takeMails();
    spy.reset();
  }

  async function attempt(client: Client, body: Record<string, string>): Promise<{ res: ClientResponse; hashes: number; verifies: number }> {
    spy.reset();
    const res = await client.request("POST", "auth/login", body);
    return { res, hashes: spy.hashes, verifies: spy.verifies };
  }

  it("wrong password and unknown account: same status, body and headers; one verification each", async () => {
    await member();
    const wrong = await attempt(h.app(), { email, password: "not the right password at all" });
    const unknown = await attempt(h.app(), { email: "nobody@example.com", password: "not the right password at all" });

    expect(wrong.res.status).toBe(400);
    expect(unknown.res.status).toBe(wrong.res.status);
    expect(unknown.res.body).toEqual(wrong.res.body);
    expect(JSON.stringify(unknown.res.body)).toBe(JSON.stringify(wrong.res.body));
    expect(headerShape(unknown.res)).toEqual(headerShape(wrong.res));
    expect(wrong.res.body.errors).toEqual([
      { param: "password", code: "email_password_mismatch", message: expect.any(String) },
    ]);
    // The unknown account still costs exactly one (dummy) verification; nothing is hashed.
    expect([wrong.verifies, wrong.hashes]).toEqual([1, 0]);
    expect([unknown.verifies, unknown.hashes]).toEqual([1, 0]);
    expect(h.signals).toEqual([]);
    expect(h.mails).toEqual([]);
  });

  it("the browser client gets byte-identical bodies and the same cookies", async () => {
    await member();
    const wrong = await attempt(h.browser(), { email, password: "not the right password at all" });
    const unknown = await attempt(h.browser(), { email: "nobody@example.com", password: "not the right password at all" });
    expect(unknown.res.status).toBe(wrong.res.status);
    expect(JSON.stringify(unknown.res.body)).toBe(JSON.stringify(wrong.res.body));
    expect(headerShape(unknown.res)).toEqual(headerShape(wrong.res));
  });

  it("an address differing only in case still names the account (same failure, not an unknown one)", async () => {
    await member();
    const upper = await attempt(h.app(), { email: "MEMBER@Example.com", password: "not the right password at all" });
    const unknown = await attempt(h.app(), { email: "nobody@example.com", password: "not the right password at all" });
    expect(upper.res.body).toEqual(unknown.res.body);
    expect(upper.verifies).toBe(1);
  });

  it("an unverified account (mandatory verification) with a wrong password looks like an unknown one", async () => {
    await open({ account: { loginMethods: ["email"], emailVerification: "mandatory" } });
    expect((await h.app().request("POST", "auth/signup", { email, password: goodPassword })).status).toBe(401);
    h.takeSignals();
    h.takeMails();
    const wrong = await attempt(h.app(), { email, password: "not the right password at all" });
    const unknown = await attempt(h.app(), { email: "nobody@example.com", password: "not the right password at all" });
    expect(unknown.res.status).toBe(wrong.res.status);
    expect(unknown.res.body).toEqual(wrong.res.body);
    expect([wrong.verifies, unknown.verifies]).toEqual([1, 1]);
    expect(h.mails).toEqual([]);
  });

  it("an inactive account with a wrong password looks like an unknown one", async () => {
    await member({ adapter: { isNewUserActive: () => false } });
    const wrong = await attempt(h.app(), { email, password: "not the right password at all" });
    const unknown = await attempt(h.app(), { email: "nobody@example.com", password: "not the right password at all" });
    expect(unknown.res.status).toBe(wrong.res.status);
    expect(unknown.res.body).toEqual(wrong.res.body);
    expect([wrong.verifies, unknown.verifies]).toEqual([1, 1]);
  });

  it("by username: wrong password and unknown username answer the same", async () => {
    await open({ account: { loginMethods: ["username"], emailVerification: "none" } });
    const signup = await h.app().request("POST", "auth/signup", { username: "member", password: goodPassword });
    expect(signup.status).toBe(200);
    const wrong = await attempt(h.app(), { username: "member", password: "not the right password at all" });
    const unknown = await attempt(h.app(), { username: "nobody", password: "not the right password at all" });
    expect(wrong.res.body.errors).toEqual([
      { param: "password", code: "username_password_mismatch", message: expect.any(String) },
    ]);
    expect(unknown.res.status).toBe(wrong.res.status);
    expect(unknown.res.body).toEqual(wrong.res.body);
    expect([wrong.verifies, unknown.verifies]).toEqual([1, 1]);
  });
});

describe("signup with a taken address (EN-06, EM-13)", () => {
  const owner = "owner@example.com";
  const mandatory = { loginMethods: ["email"], emailVerification: "mandatory", preventEnumeration: true } as const;

  async function withOwner(account: AuthConfig["account"], testClock = false): Promise<string> {
    await open({ account }, testClock);
    const res = await h.app().request("POST", "auth/signup", { email: owner, password: goodPassword });
    expect(res.status, JSON.stringify(res.body)).not.toBe(400);
    const [user] = await h.query<{ id: string }>("SELECT id FROM auth_user");
    h.takeSignals();
    h.takeMails();
    spy.reset();
    return user!.id;
  }

  async function counts(): Promise<Array<number>> {
    return Promise.all(["auth_user", "auth_email_address", "auth_verification"].map((t) => h.count(t)));
  }

  it("answers like a fresh signup, creates nobody, and mails the owner a link-less notice", async () => {
    await withOwner(mandatory);

    const freshClient = h.app();
    const fresh = await freshClient.request("POST", "auth/signup", { email: "fresh@example.com", password: goodPassword });
    const freshHashes = spy.hashes;
    const freshMails = h.takeMails();
    h.takeSignals();
    spy.reset();

    const before = await counts();
    const takenClient = h.app();
    const taken = await takenClient.request("POST", "auth/signup", { email: "Owner@Example.COM", password: goodPassword });

    expect(taken.status).toBe(fresh.status);
    expect(taken.status).toBe(401);
    expect(keysDeep(taken.body)).toEqual(keysDeep(fresh.body));
    expect(withoutToken(taken.body)).toEqual(withoutToken(fresh.body));
    expect(headerShape(taken)).toEqual(headerShape(fresh));
    expect(taken.body.data.flows).toContainEqual({ id: "verify_email", is_pending: true });
    // the same work: one hash each
    expect(freshHashes).toBe(1);
    expect(spy.hashes).toBe(1);

    // nobody new, no address, no verification key
    expect(await counts()).toEqual(before);
    expect(h.signals).toEqual([]);

    // exactly one mail, to the stored owner address, with no link, key or code
    expect(freshMails).toHaveLength(1);
    const mails = h.takeMails();
    expect(mails).toHaveLength(1);
    const [notice] = mails;
    expect(notice!.to).toBe(owner);
    expect(notice!.subject).toBe("[example.com] Account Already Exists");
    expect(notice!.text).not.toMatch(/verify-email|https?:\/\/|\/account\//);
    expect(notice!.text).not.toMatch(/[A-Za-z0-9_-]{32,}/);
    expect(notice!.text).not.toMatch(/^[A-Z]{4}-[A-Z]{4}$/m);
    expect(notice!.html).not.toMatch(/<a |verify-email|https?:\/\/|\/account\//);
    expect(notice!.data.url).toBeUndefined();
    expect(notice!.data.code).toBeUndefined();

    // afterwards both sessions look alike too
    const freshSession = await freshClient.request("GET", "auth/session");
    const takenSession = await takenClient.request("GET", "auth/session");
    expect(takenSession.status).toBe(freshSession.status);
    expect(withoutToken(takenSession.body)).toEqual(withoutToken(freshSession.body));

    // and a guessed key is refused the same way from either
    const freshGuess = await freshClient.request("POST", "auth/email/verify", { key: "A".repeat(43) });
    const takenGuess = await takenClient.request("POST", "auth/email/verify", { key: "A".repeat(43) });
    expect(takenGuess.status).toBe(freshGuess.status);
    expect(takenGuess.body).toEqual(freshGuess.body);
  });

  it("the owner's account is untouched: same password hash, still unverified, no new session for it", async () => {
    const ownerId = await withOwner(mandatory);
    const [before] = await h.query<{ password: string }>("SELECT password FROM auth_user WHERE id = ?", ownerId);
    await h.app().request("POST", "auth/signup", { email: owner, password: "attacker chosen password!!" });
    const [after] = await h.query<{ password: string }>("SELECT password FROM auth_user WHERE id = ?", ownerId);
    expect(after!.password).toBe(before!.password);
    expect(await h.query("SELECT id FROM auth_session WHERE user_id = ?", ownerId)).toEqual([]);
    const [row] = await h.query<{ verified: number }>("SELECT verified FROM auth_email_address WHERE user_id = ?", ownerId);
    expect(Number(row!.verified)).toBe(0);
    // the attacker's password does not log in as the owner
    const login = await h.app().request("POST", "auth/login", { email: owner, password: "attacker chosen password!!" });
    expect(login.status).toBe(400);
  });

  it("code mode: the notice carries no code, and wrong codes are answered alike", async () => {
    await withOwner({ ...mandatory, emailVerificationByCodeEnabled: true });
    const freshClient = h.app();
    const fresh = await freshClient.request("POST", "auth/signup", { email: "fresh@example.com", password: goodPassword });
    const code = codeFromMail(h.takeMails()[0]!);
    h.takeSignals();
    const takenClient = h.app();
    const before = await counts();
    const taken = await takenClient.request("POST", "auth/signup", { email: owner, password: goodPassword });
    expect(taken.status).toBe(fresh.status);
    expect(withoutToken(taken.body)).toEqual(withoutToken(fresh.body));
    expect(await counts()).toEqual(before);

    const [notice, ...rest] = h.takeMails();
    expect(rest).toEqual([]);
    expect(notice!.to).toBe(owner);
    expect(notice!.subject).toBe("[example.com] Account Already Exists");
    expect(notice!.text).not.toMatch(/^[A-Z]{4}-[A-Z]{4}$/m);
    expect(() => codeFromMail(notice!)).toThrow();

    // a wrong code (never the real one) gets the same answer every time, up to the last attempt
    const wrongCode = code === "BCDF-GHJK" ? "BCDF-GHJL" : "BCDF-GHJK";
    for (let i = 0; i < 3; i++) {
      const a = await freshClient.request("POST", "auth/email/verify", { key: wrongCode });
      const b = await takenClient.request("POST", "auth/email/verify", { key: wrongCode });
      expect(b.status).toBe(a.status);
      expect(b.body).toEqual(a.body);
    }
    expect(h.takeSignals()).toEqual([]);
    expect(reports).toEqual([]);
  });

  it("code mode with resend: the fake flow resends like a real one (no crash, no mail, same answers)", async () => {
    await withOwner({ ...mandatory, emailVerificationByCodeEnabled: true, emailVerificationSupportsResend: true }, true);
    const freshClient = h.app();
    await freshClient.request("POST", "auth/signup", { email: "fresh@example.com", password: goodPassword });
    const takenClient = h.app();
    await takenClient.request("POST", "auth/signup", { email: owner, password: goodPassword });
    h.takeMails();
    h.takeSignals();

    // Right after the signup, both are inside the first mail's cooldown alike.
    const early = [await freshClient.request("POST", "auth/email/verify/resend"), await takenClient.request("POST", "auth/email/verify/resend")];
    expect(early.map((r) => r.status)).toEqual([429, 429]);
    expect(early[1]!.body).toEqual(early[0]!.body);
    await h.auth.runtime.runPromise(TestClock.adjust("11 seconds"));
    const answers: Array<[number, number]> = [];
    for (let i = 0; i < 4; i++) {
      const a = await freshClient.request("POST", "auth/email/verify/resend");
      const b = await takenClient.request("POST", "auth/email/verify/resend");
      expect(b.body).toEqual(a.body);
      answers.push([a.status, b.status]);
      // a second resend inside the 10 s cooldown is throttled alike (once the quota is used: 409 alike)
      const a2 = await freshClient.request("POST", "auth/email/verify/resend");
      const b2 = await takenClient.request("POST", "auth/email/verify/resend");
      expect([a2.status, b2.status]).toEqual(i < 1 ? [429, 429] : [409, 409]);
      expect(b2.body).toEqual(a2.body);
      await h.auth.runtime.runPromise(TestClock.adjust("11 seconds"));
    }
    // two resends allowed, then refused (allauth: 409, the quota is used up) — for both
    expect(answers).toEqual([
      [200, 200],
      [200, 200],
      [409, 409],
      [409, 409],
    ]);
    // only the real signup got new codes
    expect(h.takeMails().map((m) => m.to)).toEqual(["fresh@example.com", "fresh@example.com"]);
    expect(reports).toEqual([]);
  });

  it("without mandatory verification the taken address is refused openly (the documented trade-off)", async () => {
    await withOwner({ loginMethods: ["email"], emailVerification: "optional", preventEnumeration: true });
    const res = await h.app().request("POST", "auth/signup", { email: owner, password: goodPassword });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ param: "email", code: "email_taken", message: expect.any(String) }]);
    expect(h.mails).toEqual([]);
  });
});

describe("code-mode verification info (GET auth/email/verify)", () => {
  it("answers a fake flow exactly as a real one for any code the caller cannot know", async () => {
    const h = await harness({
      account: { loginMethods: ["email"], emailVerification: "mandatory", emailVerificationByCodeEnabled: true },
    });
    const owner = h.app();
    expect((await owner.request("POST", "auth/signup", { email: "taken@example.com", password: goodPassword })).status).toBe(401);
    const real = h.app();
    await real.request("POST", "auth/signup", { email: "fresh@example.com", password: goodPassword });
    const fake = h.app();
    await fake.request("POST", "auth/signup", { email: "taken@example.com", password: goodPassword });
    for (const header of [{}, { "x-email-verification-key": "BCDF-GHJK" }] as Array<Record<string, string>>) {
      const a = await real.request("GET", "auth/email/verify", undefined, header);
      const b = await fake.request("GET", "auth/email/verify", undefined, header);
      expect(a.status).toBe(400);
      expect([b.status, b.body]).toEqual([a.status, a.body]);
    }
    await h.close();
  });

  it("counts wrong codes given to GET, so guessing there also ends the flow", async () => {
    const h = await harness({
      account: { loginMethods: ["email"], emailVerification: "mandatory", emailVerificationByCodeEnabled: true },
    });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    const code = codeFromMail(h.mails[0]!);
    for (const guess of ["BCDF-GHJK", "BCDF-GHJL", "BCDF-GHJM"]) {
      expect((await client.request("GET", "auth/email/verify", undefined, { "x-email-verification-key": guess })).status).toBe(400);
    }
    // The third wrong code ended the flow: allauth answers the next call 409.
    const late = await client.request("POST", "auth/email/verify", { key: code });
    expect(late.status).toBe(409);
    expect(h.signals.map((s) => s.type)).not.toContain("email_confirmed");
    const [row] = await h.query<{ verified: number }>("SELECT verified FROM auth_email_address");
    expect(row!.verified).toBe(0);
    await h.close();
  });
});

describe("a failing mail transport tells nothing (EN-05)", () => {
  it("reset requests for a known and an unknown address answer alike; both mails wait in the outbox with the error, and go out later", async () => {
    let down = true;
    const sent: Array<string> = [];
    const mailer = {
      send: async (mail: { to: string }) => {
        if (down) {
          throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:25"), { code: "ESOCKET" });
        }
        sent.push(mail.to);
      },
    };
    await open({ account: { loginMethods: ["email"], emailVerification: "none" }, mailer, outbox: { pollIntervalMs: false } }, true);
    expect((await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();
    reports = [];

    const known = await h.app().request("POST", "auth/password/request", { email: "ann@example.com" });
    const unknown = await h.app().request("POST", "auth/password/request", { email: "nobody@example.com" });
    expect(known.status).toBe(200);
    expect([unknown.status, unknown.body]).toEqual([known.status, known.body]);
    expect(headerShape(unknown)).toEqual(headerShape(known));
    expect(h.takeSignals()).toEqual([]);

    const rows = await h.query<{ status: string; attempts: number; last_error: string }>(
      "SELECT status, attempts, last_error FROM auth_outbox WHERE kind = 'mail' ORDER BY created_at",
    );
    expect(rows.map((r) => [r.status, Number(r.attempts), r.last_error])).toEqual([
      ["pending", 1, expect.stringContaining("ECONNREFUSED")],
      ["pending", 1, expect.stringContaining("ECONNREFUSED")],
    ]);
    expect(reports).toHaveLength(2);

    down = false;
    await h.auth.runtime.runPromise(TestClock.adjust("1 hour"));
    expect(await h.auth.outbox.drain()).toBe(2);
    expect(sent.sort()).toEqual(["ann@example.com", "nobody@example.com"]);
  });
});

describe("adding an address another account holds (EN-07)", () => {
  it("answers as for a fresh address, and the claim can never be verified while the owner holds it", async () => {
    await open({ account: { loginMethods: ["email"], emailVerification: "optional" } }, true);
    for (const email of ["bea@example.com", "ann@example.com"]) {
      expect((await h.app().request("POST", "auth/signup", { email, password: goodPassword })).status).toBe(200);
    }
    await h.query("UPDATE auth_email_address SET verified = 1");
    // Past the signup mails' confirm_email cooldown (1/180s per address).
    await h.auth.runtime.runPromise(TestClock.adjust("181 seconds"));
    h.takeSignals();
    h.takeMails();
    const ann = h.app();
    expect((await ann.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();

    const answers: Array<[number, unknown, Array<string>]> = [];
    const links: Array<string> = [];
    for (const email of ["bea@example.com", "fresh@example.com"]) {
      const res = await ann.request("POST", "account/email", { email });
      const added = (res.body.data as Array<{ email: string }>).find((a) => a.email === email);
      answers.push([res.status, { ...added, email: "<added>" }, h.takeSignals()]);
      const mails = h.takeMails();
      expect(mails.map((m) => m.to)).toEqual([email]);
      links.push(/verify-email\/(\S+)/.exec(mails[0]!.text)![1]!);
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]![0]).toBe(200);

    const claimed = await ann.request("POST", "auth/email/verify", { key: decodeURIComponent(links[0]!) });
    expect(claimed.status).toBe(400);
    expect(claimed.body.errors).toEqual([expect.objectContaining({ param: "key", code: "email_taken" })]);
    expect(h.takeSignals()).toEqual([]);
    const rows = await h.query<{ user: string; verified: number }>(
      "SELECT u.email AS user, a.verified FROM auth_email_address a JOIN auth_user u ON u.id = a.user_id WHERE a.email = 'bea@example.com' ORDER BY u.email",
    );
    expect(rows.map((r) => [r.user, Number(r.verified)])).toEqual([
      ["ann@example.com", 0],
      ["bea@example.com", 1],
    ]);
  });
});
