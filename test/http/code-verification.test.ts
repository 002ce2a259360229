/**
 * The code-verification process through HTTP, once for each of its three users — login by
 * code, email verification by code, password reset by code: the attempt limit, the timeout, a
 * flow resumed by another instance, resends and their quota, and parallel requests against one
 * flow, which never get more guesses evaluated or mails sent than the caps allow (the counts
 * live in the flow's row). Runs on SQLite and PostgreSQL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestContext } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import type { AccountConfig } from "../../src/config.ts";
import { onPostgres, testDatabase } from "../support/database.ts";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Client, ClientResponse, Harness } from "../support/harness.ts";
import { advance, fastHasher } from "./support.ts";

const newPassword = "a brand new passphrase 77";
const WRONG = ["BCDF-GHJK", "BCDF-GHJL", "BCDF-GHJM", "BCDF-GHJN", "BCDF-GHJP", "BCDF-GHJQ", "BCDF-GHJR", "BCDF-GHJS", "BCDF-GHJT", "BCDF-GHJV"];

interface CodeFlowCase {
  readonly name: string;
  readonly account: AccountConfig;
  readonly param: "code" | "key";
  readonly timeoutInSeconds: number;
  readonly maxResends: number;
  /** Signs `email` up, then opens the flow for a new app client: the client and the code mailed. */
  open(h: Harness, email?: string): Promise<{ client: Client; code: string }>;
  /** The POST that checks a code (null: sends none). */
  confirm(client: Client, code: string | null): Promise<ClientResponse>;
  /** The GET that checks a code too (counted alike), where the endpoint has one. */
  readonly check: ((client: Client, code: string) => Promise<ClientResponse>) | null;
  readonly resend: ((client: Client) => Promise<ClientResponse>) | null;
  /** The right code's answer and signals. */
  readonly success: { readonly status: number; readonly signals: ReadonlyArray<string> };
}

async function signUp(h: Harness, email: string, verified: boolean): Promise<void> {
  const client = h.app();
  await client.request("POST", "auth/signup", { email, password: goodPassword });
  if (verified) {
    await h.query("UPDATE auth_email_address SET verified = 1 WHERE email = ?", email);
  }
  await client.request("DELETE", "auth/session");
  h.takeMails();
  h.takeSignals();
}

function onlyMail(h: Harness, email = "ann@example.com"): string {
  const mails = h.takeMails();
  expect(mails.map((m) => m.to)).toEqual([email]);
  return codeFromMail(mails[0]!);
}

const cases: ReadonlyArray<CodeFlowCase> = [
  {
    name: "login by code",
    account: { loginMethods: ["email"], emailVerification: "none", loginByCodeEnabled: true, loginByCodeSupportsResend: true },
    param: "code",
    timeoutInSeconds: 180,
    maxResends: 2,
    async open(h, email = "ann@example.com") {
      await signUp(h, email, true);
      const client = h.app();
      expect((await client.request("POST", "auth/code/request", { email })).status).toBe(401);
      return { client, code: onlyMail(h, email) };
    },
    confirm: (client, code) => client.request("POST", "auth/code/confirm", code === null ? {} : { code }),
    check: null,
    resend: (client) => client.request("POST", "auth/code/resend"),
    success: { status: 200, signals: ["user_logged_in"] },
  },
  {
    name: "email verification by code",
    account: {
      loginMethods: ["email"],
      emailVerification: "mandatory",
      emailVerificationByCodeEnabled: true,
      emailVerificationSupportsResend: true,
    },
    param: "key",
    timeoutInSeconds: 900,
    maxResends: 2,
    async open(h, email = "ann@example.com") {
      const client = h.app();
      expect((await client.request("POST", "auth/signup", { email, password: goodPassword })).status).toBe(401);
      h.takeSignals();
      return { client, code: onlyMail(h, email) };
    },
    confirm: (client, code) => client.request("POST", "auth/email/verify", code === null ? {} : { key: code }),
    check: (client, code) => client.request("GET", "auth/email/verify", undefined, { "x-email-verification-key": code }),
    resend: (client) => client.request("POST", "auth/email/verify/resend"),
    success: { status: 200, signals: ["email_confirmed", "user_logged_in"] },
  },
  {
    name: "password reset by code",
    account: { loginMethods: ["email"], emailVerification: "none", passwordResetByCodeEnabled: true },
    param: "key",
    timeoutInSeconds: 180,
    maxResends: 0,
    async open(h, email = "ann@example.com") {
      await signUp(h, email, false);
      const client = h.app();
      expect((await client.request("POST", "auth/password/request", { email })).status).toBe(401);
      return { client, code: onlyMail(h, email) };
    },
    confirm: (client, code) =>
      client.request("POST", "auth/password/reset", code === null ? { password: newPassword } : { key: code, password: newPassword }),
    check: (client, code) => client.request("GET", "auth/password/reset", undefined, { "x-password-reset-key": code }),
    resend: null,
    success: { status: 401, signals: ["email_confirmed", "password_reset"] },
  },
];

const opened: Array<Harness> = [];
const dirs: Array<string> = [];
afterEach(async () => {
  for (const h of opened.splice(0)) {
    await h.close();
  }
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function open(flow: CodeFlowCase, options: { clock?: boolean } = {}): Promise<Harness> {
  const h = await harness(
    { account: flow.account, passwordHasher: fastHasher },
    options.clock === true ? { layer: TestContext.TestContext } : {},
  );
  opened.push(h);
  return h;
}

/** Two instances on one database (a SQLite file, or the test's PostgreSQL schema). */
async function pair(flow: CodeFlowCase): Promise<[Harness, Harness]> {
  let database: string;
  if (onPostgres) {
    const db = await testDatabase();
    database = db.url;
    const probe = await harness({ database });
    await db.reset((text) => probe.query(text));
    await probe.close();
  } else {
    const dir = mkdtempSync(join(tmpdir(), "authmachines-codes-"));
    dirs.push(dir);
    database = `sqlite:${join(dir, "auth.db")}`;
  }
  const config = { database, account: flow.account, passwordHasher: fastHasher, outbox: { pollIntervalMs: false as const } };
  const a = await harness(config);
  const b = await harness(config);
  opened.push(a, b);
  return [a, b];
}

function expectCodeError(res: ClientResponse, flow: CodeFlowCase, code: "incorrect_code" | "required"): void {
  expect(res.status).toBe(400);
  expect(res.body.errors).toEqual([
    expect.objectContaining({ param: flow.param, code, message: code === "required" ? "This field is required." : "Incorrect code." }),
  ]);
}

function expect409(res: ClientResponse): void {
  expect([res.status, res.body]).toEqual([409, { status: 409 }]);
}

/** The session no longer holds the flow: it is not pending any more. */
async function expectNotPending(client: Client): Promise<void> {
  const session = await client.request("GET", "auth/session");
  expect(session.body.data.flows.filter((f: { is_pending?: boolean }) => f.is_pending === true)).toEqual([]);
}

describe.each(cases)("the code-verification process: $name", (flow) => {
  it("counts a missing code, answers the attempt that reaches the limit with incorrect_code, then 409 even for the right code", async () => {
    const h = await open(flow);
    const { client, code } = await flow.open(h);
    expectCodeError(await flow.confirm(client, null), flow, "required");
    expectCodeError(await flow.confirm(client, WRONG[0]!), flow, "incorrect_code");
    expectCodeError(await flow.confirm(client, WRONG[1]!), flow, "incorrect_code");
    expect409(await flow.confirm(client, code));
    if (flow.check !== null) {
      expect409(await flow.check(client, code));
    }
    await expectNotPending(client);
    expect(h.takeSignals()).toEqual([]);
    expect(h.takeMails()).toEqual([]);
    expect(await h.query("SELECT id FROM auth_flow")).toEqual([]);
  });

  it("a right code after fewer wrong ones succeeds, with the flow's ordered signals", async () => {
    const h = await open(flow);
    const { client, code } = await flow.open(h);
    expectCodeError(await flow.confirm(client, WRONG[0]!), flow, "incorrect_code");
    expectCodeError(await flow.confirm(client, WRONG[1]!), flow, "incorrect_code");
    const res = await flow.confirm(client, code);
    expect(res.status).toBe(flow.success.status);
    expect(h.takeSignals()).toEqual(flow.success.signals);
    expect409(await flow.confirm(client, code));
  });

  it("times the process out: after its timeout the right code answers 409 and the flow is over", async () => {
    const h = await open(flow, { clock: true });
    const { client, code } = await flow.open(h);
    await advance(h, `${flow.timeoutInSeconds + 1} seconds`);
    expect409(await flow.confirm(client, code));
    await expectNotPending(client);
    expect(h.takeSignals()).toEqual([]);
  });

  it("is resumed from its persisted row by another instance, with its count", async () => {
    const [a, b] = await pair(flow);
    const { client, code } = await flow.open(a);
    const onB = b.app();
    onB.token = client.token;
    expectCodeError(await flow.confirm(client, WRONG[0]!), flow, "incorrect_code");
    expectCodeError(await flow.confirm(onB, WRONG[1]!), flow, "incorrect_code");
    expectCodeError(await flow.confirm(client, WRONG[2]!), flow, "incorrect_code");
    expect409(await flow.confirm(onB, code));
    expect([...a.takeSignals(), ...b.takeSignals()]).toEqual([]);

    // A second flow: checked on one instance, completed on the other.
    const second = await flow.open(a, "bea@example.com");
    const secondOnB = b.app();
    secondOnB.token = second.client.token;
    expectCodeError(await flow.confirm(second.client, WRONG[0]!), flow, "incorrect_code");
    expect((await flow.confirm(secondOnB, second.code)).status).toBe(flow.success.status);
    expect(b.takeSignals()).toEqual(flow.success.signals);
  });

  it("answers parallel wrong codes (POST and GET) with exactly as many evaluated guesses as the limit allows", async () => {
    const h = await open(flow);
    const { client, code } = await flow.open(h);
    const guesses = WRONG.map((wrong, i) => (flow.check !== null && i % 2 === 1 ? flow.check(client, wrong) : flow.confirm(client, wrong)));
    const resends = flow.resend === null ? [] : Array.from({ length: 10 }, () => flow.resend!(client));
    const [answers, resent] = await Promise.all([Promise.all(guesses), Promise.all(resends)]);
    const evaluated = answers.filter((r) => r.status === 400);
    for (const r of evaluated) {
      expectCodeError(r, flow, "incorrect_code");
    }
    expect(evaluated).toHaveLength(3);
    expect(answers.filter((r) => r.status === 409)).toHaveLength(WRONG.length - 3);
    const mailed = h.takeMails();
    expect(resent.filter((r) => r.status === 200)).toHaveLength(mailed.length);
    expect(mailed.length).toBeLessThanOrEqual(flow.maxResends);
    for (const r of resent) {
      expect([200, 409, 429]).toContain(r.status);
    }
    expect409(await flow.confirm(client, code));
    expect(h.takeSignals().filter((s) => s !== "email_confirmation_sent")).toEqual([]);
  });
});

describe.each(cases.filter((flow) => flow.resend !== null))("resending a code: $name", (flow) => {
  it("mails a new code (the old one is wrong now) within the quota, then answers 409 (TH-10)", async () => {
    const h = await open(flow, { clock: true });
    const { client, code } = await flow.open(h);
    const codes = [code];
    for (let i = 0; i < flow.maxResends; i++) {
      await advance(h, "11 seconds"); // past the code-mode cooldown of verification mails
      const res = await flow.resend!(client);
      expect([res.status, res.body]).toEqual([200, { status: 200 }]);
      codes.push(onlyMail(h));
    }
    await advance(h, "11 seconds");
    expect409(await flow.resend!(client));
    expect(h.takeMails()).toEqual([]);
    expectCodeError(await flow.confirm(client, codes[0]!), flow, "incorrect_code");
    expect((await flow.confirm(client, codes.at(-1)!)).status).toBe(flow.success.status);
  });

  it("sends at most the quota's mails for 25 parallel resends", async () => {
    const h = await open(flow, { clock: true });
    const { client } = await flow.open(h);
    // Past the first mail's cooldown (email verification's `confirm_email`, 1/10s).
    await advance(h, "11 seconds");
    const answers = await Promise.all(Array.from({ length: 25 }, () => flow.resend!(client)));
    const mailed = h.takeMails();
    const sent = answers.filter((r) => r.status === 200);
    expect(sent).toHaveLength(mailed.length);
    expect(mailed.length).toBeGreaterThanOrEqual(1);
    expect(mailed.length).toBeLessThanOrEqual(flow.maxResends);
    for (const r of answers.filter((r) => r.status !== 200)) {
      expect([409, 429]).toContain(r.status);
    }
    // Exactly one mailed code is live (mails go out after their commits, in no set order).
    const tries: Array<number> = [];
    for (const mail of mailed) {
      const res = await flow.confirm(client, codeFromMail(mail));
      tries.push(res.status);
      if (res.status === flow.success.status) {
        break;
      }
      expectCodeError(res, flow, "incorrect_code");
    }
    expect(tries.filter((status) => status === flow.success.status)).toHaveLength(1);
  });
});

describe("the code-mode resend cooldown of verification mails", () => {
  it("answers a resend within 10 seconds of the last code mail (the first one too) with 429 and mails nothing, without using the quota", async () => {
    const flow = cases[1]!;
    const h = await open(flow, { clock: true });
    const { client } = await flow.open(h);
    expect((await flow.resend!(client)).status).toBe(429);
    expect(h.takeMails()).toEqual([]);
    await advance(h, "11 seconds");
    expect((await flow.resend!(client)).status).toBe(200);
    expect(h.takeMails()).toHaveLength(1);
    expect(h.takeSignals()).toEqual(["email_confirmation_sent"]);
    expect([...[await flow.resend!(client)].map((r) => [r.status, r.body])]).toEqual([[429, { status: 429 }]]);
    expect(h.takeMails()).toEqual([]);
    await advance(h, "11 seconds");
    expect((await flow.resend!(client)).status).toBe(200);
    expect(h.takeMails()).toHaveLength(1);
  });
});
