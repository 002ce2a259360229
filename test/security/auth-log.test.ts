/**
 * The authentication log (SECURITY.md LG-05): every password check and every login that starts
 * a session goes to `logger.info` as one structured event — who (the account id, or a digest of
 * an identifier that names no account), from which IP, how, the outcome, when (ISO 8601 UTC) —
 * with no password, hash or typed address in it.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { AuthEvent } from "../../src/runtime/auth-events.ts";
import { fastHasher } from "../http/support.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

let h: Harness;
let events: Array<AuthEvent>;
afterEach(async () => {
  await h?.close();
});

async function open(): Promise<Harness> {
  events = [];
  h = await harness({
    account: { loginMethods: ["email"], emailVerification: "none", rateLimits: { loginFailed: "10/m/ip,2/300s/key" } },
    passwordHasher: fastHasher,
    logger: {
      error: () => undefined,
      warn: () => undefined,
      info: (message: string, event: AuthEvent) => {
        expect(message).toBe("authmachines: authentication");
        events.push(event);
      },
    },
  });
  return h;
}

const wrong = "a wrong passphrase typed here 9";

describe("the authentication log (LG-05)", () => {
  it("a failed login: one event with the account, IP, method and outcome in UTC; no password", async () => {
    await open();
    const signup = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    const userId = signup.body.data.user.id as string;
    expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in"]);
    events.length = 0;

    expect((await h.app().request("POST", "auth/login", { email: "ann@example.com", password: wrong })).status).toBe(400);
    expect(h.takeSignals()).toEqual([]);
    expect(events).toEqual([
      {
        event: "authentication",
        action: "login",
        outcome: "failure",
        method: "password",
        userId,
        identifier: null,
        ip: expect.stringMatching(/^10\.0\.1\.\d+$/),
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      },
    ]);
    expect(JSON.stringify(events)).not.toContain(wrong);
    expect(JSON.stringify(events)).not.toContain("fast$");
  });

  it("an unknown address is named by a digest, never by the address", async () => {
    await open();
    await h.app().request("POST", "auth/login", { email: "nobody@example.com", password: wrong });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "login", outcome: "failure", userId: null, identifier: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(JSON.stringify(events)).not.toContain("nobody");
  });

  it("a successful login logs the check and the session's start; throttling and reauthentication are logged too", async () => {
    await open();
    const signup = await h.app().request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword });
    const app = h.app();
    const userId = signup.body.data.user.id as string;
    h.takeSignals();
    events.length = 0;
    await app.request("POST", "auth/login", { email: "bob@example.com", password: goodPassword });
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
    expect(events.map((e) => [e.action, e.outcome, e.method, e.userId])).toEqual([
      ["login", "success", "password", userId],
      ["session_started", "success", "password", userId],
    ]);
    events.length = 0;

    expect((await app.request("POST", "auth/reauthenticate", { password: wrong })).status).toBe(400);
    expect(events.map((e) => [e.action, e.outcome, e.userId])).toEqual([["password_check", "failure", userId]]);
    events.length = 0;

    // The account's budget is two failures: the next try is throttled before any check.
    await h.app().request("POST", "auth/login", { email: "bob@example.com", password: wrong });
    await h.app().request("POST", "auth/login", { email: "bob@example.com", password: wrong });
    expect(events.map((e) => [e.action, e.outcome])).toEqual([
      ["login", "failure"],
      ["login", "throttled"],
    ]);
    expect(h.takeSignals()).toEqual([]);
  });
});
