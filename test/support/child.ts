/**
 * A second process for the durability tests, driven by environment variables:
 *  - CHILD_DATABASE: the database URL to share with the test process;
 *  - CHILD_ACTION: `signup-code` (sign up in code mode, print the session token and the code,
 *    then wait to be killed) or `signup-hang` (sign up with a mail transport that never answers,
 *    so the process dies between commit and delivery), or `signup-hang-defaults` (the same with
 *    the outbox's default lease), or `signup-in-transaction` (sign up with an in-step receiver
 *    that never returns, so the process dies with the step's transaction open), or
 *    `group-in-transaction` (`sqliteGroupCommit` on: three signups reach their writes together,
 *    and the last one's in-step receiver never returns, so the process dies with their group open),
 *    or `login-wrong` (sign up, then one login with a wrong password; its attempt is committed
 *    without waiting for the disk, and the process is killed right after the answer).
 * It prints one JSON line per event on stdout.
 */
import { createAuth } from "../../src/auth.ts";
import type { Mail } from "../../src/services/mailer.ts";

const database = process.env["CHILD_DATABASE"]!;
const action = process.env["CHILD_ACTION"]!;
const say = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);

const mails: Array<Mail> = [];
const group = action === "group-in-transaction";
/** Group mode: once the signups start, every hash waits until three are asked for, then all are answered. */
const held: Array<() => void> = [];
let gated = false;
const gate = (): Promise<void> =>
  gated
    ? new Promise<void>((resolve) => {
        held.push(resolve);
        if (held.length === 3) {
          held.splice(0).forEach((go) => go());
        }
      })
    : Promise.resolve();
const auth = await createAuth(
  {
    secret: "test-secret-test-secret-test-secret-0123",
    database,
    mailer:
      action.startsWith("signup-hang")
        ? { send: () => new Promise<void>(() => undefined) }
        : { send: async (mail) => void mails.push(mail) },
    passwordHasher: { hash: async (p) => (await gate(), `fast$${p}`), verify: async (h, p) => h === `fast$${p}` },
    // A wide window: the members below wait in their receivers so that the next one has queued.
    sqliteGroupCommit: group ? { maxMs: 10_000 } : false,
    account: {
      loginMethods: ["email"],
      emailVerification: "mandatory",
      emailVerificationByCodeEnabled: action === "signup-code",
    },
    outbox: action === "signup-hang-defaults" ? { pollIntervalMs: false } : { pollIntervalMs: false, leaseMs: 300 },
    // stdout carries only the events: the authentication log goes nowhere.
    logger: { info: () => undefined, warn: console.error, error: console.error },
  },
  { report: () => undefined },
);
auth.signals.after("user_signed_up", () => say({ event: "after-signal-in-child" }));
if (action === "signup-in-transaction") {
  auth.signals.on("user_signed_up", () => {
    say({ event: "in-transaction" });
    return new Promise<void>(() => undefined);
  });
}
if (group) {
  auth.signals.on("user_signed_up", ({ user }) => {
    if (user.email === "warm@example.com") {
      return undefined;
    }
    say({ event: `in-step ${user.email}` });
    // Ann and Bob hold their write phase a moment, so the next signup (its hash answered with
    // theirs) is waiting for the write slot when they end, and joins their group.
    return user.email === "hang@example.com" ? new Promise<void>(() => undefined) : new Promise<void>((resolve) => setTimeout(resolve, 150));
  });
}
say({ event: "ready" });

const post = (path: string, body: Record<string, string>): Promise<Response> =>
  auth.handler(
    new Request(`http://127.0.0.1/_allauth/app/v1/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
    { ip: "10.9.9.9" },
  );
const signup = (email: string): Promise<Response> => post("auth/signup", { email, password: "correct horse battery staple 42" });
if (group) {
  // A first signup warms the code up, so the three that follow reach their writes within one group.
  await signup("warm@example.com");
  gated = true;
  for (const email of ["ann@example.com", "bob@example.com", "hang@example.com"]) {
    void signup(email).then((response) => say({ event: `answered ${email}`, status: response.status }));
  }
} else if (action === "login-wrong") {
  await signup("ann@example.com");
  const response = await post("auth/login", { email: "ann@example.com", password: "not the password at all" });
  say({ event: "answered", status: response.status });
} else if (action === "signup-code") {
  const response = await signup("ann@example.com");
  await auth.outbox.settled();
  const body = (await response.json()) as { meta: { session_token: string } };
  const code = /^([A-Z]{4}-[A-Z]{4})$/m.exec(mails[0]!.text)![1];
  say({ event: "signed-up", status: response.status, token: body.meta.session_token, code });
} else {
  void signup("ann@example.com");
  say({ event: "requested" });
}
// Wait to be killed.
setInterval(() => undefined, 1000);
