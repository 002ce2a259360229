/**
 * Helpers shared by the HTTP scenario tests: reading what the harness recorded (signal names and
 * payloads, mails, rows) and checking the headless response shapes of the allauth OpenAPI spec.
 */
import { Effect, TestClock } from "effect";
import { expect } from "vitest";
import type { AuthSignalName } from "../../machines/signals.ts";
import type { SignalPayload } from "../../src/runtime/signal-bus.ts";
import type { Mail } from "../../src/services/mailer.ts";
import { codeFromMail, goodPassword } from "../support/harness.ts";
import type { Client, ClientResponse, Harness, Recorded } from "../support/harness.ts";
import { validateApiResponse } from "../support/openapi.ts";

/** A cheap, deterministic hasher for tests that send many requests. */
export const fastHasher = {
  hash: async (p: string) => `fast$${p}`,
  verify: async (h: string, p: string) => h === `fast$${p}`,
};

/**
 * `fastHasher` whose next check, once `arm()`ed, waits after checking until `release()`: holds a
 * login between its password check and its session start (the CC-08 race).
 */
export function heldVerifier() {
  let hold: Promise<void> | null = null;
  let release = () => {};
  return {
    hasher: {
      hash: fastHasher.hash,
      verify: async (hash: string, password: string) => {
        const ok = await fastHasher.verify(hash, password);
        const waiting = hold;
        hold = null;
        if (waiting !== null) await waiting;
        return ok;
      },
    },
    arm: () => {
      hold = new Promise<void>((resolve) => (release = resolve));
    },
    /** Resolves once an armed check has started waiting. */
    held: async () => {
      while (hold !== null) await new Promise((resolve) => setTimeout(resolve, 5));
    },
    release: () => release(),
  };
}

/** What one step emitted: the ordered names, and the payloads by name. */
export interface Taken {
  readonly names: ReadonlyArray<string>;
  readonly recorded: ReadonlyArray<Recorded>;
  /** The one payload of that name (fails the test when there is not exactly one). */
  one<N extends AuthSignalName>(name: N): SignalPayload<N>;
}

/** Takes every recorded signal (names through `h.takeSignals()`, which clears them). */
export function take(h: Harness): Taken {
  const recorded = [...h.signals];
  const names = h.takeSignals();
  return {
    names,
    recorded,
    one<N extends AuthSignalName>(name: N): SignalPayload<N> {
      const found = recorded.filter((s) => s.type === name);
      expect(found, `exactly one ${name}`).toHaveLength(1);
      return found[0] as unknown as SignalPayload<N>;
    },
  };
}

export interface EmailRow {
  readonly user_id: string;
  readonly email: string;
  readonly verified: number;
  readonly is_primary: number;
}

export async function emailRows(h: Harness): Promise<ReadonlyArray<EmailRow>> {
  const rows = await h.query<EmailRow>(
    "SELECT user_id, email, verified, is_primary FROM auth_email_address ORDER BY email, user_id",
  );
  return rows.map((r) => ({ ...r, verified: Number(r.verified), is_primary: Number(r.is_primary) }));
}

export interface UserRow {
  readonly id: string;
  readonly username: string | null;
  readonly email: string;
  readonly is_active: number;
  readonly last_login: number | null;
}

export async function userRows(h: Harness): Promise<ReadonlyArray<UserRow>> {
  return h.query<UserRow>("SELECT id, username, email, is_active, last_login FROM auth_user ORDER BY date_joined, email, id");
}

export async function advance(h: Harness, duration: `${number} seconds` | `${number} minutes`): Promise<void> {
  await h.auth.runtime.runPromise(TestClock.adjust(duration));
}

/** Current time as the library sees it (TestClock or real). */
export async function now(h: Harness): Promise<number> {
  return h.auth.runtime.runPromise(Effect.clockWith((c) => c.currentTimeMillis));
}

export function signup(
  c: Client,
  fields: { email?: string; username?: string; password?: string },
): Promise<ClientResponse> {
  return c.request("POST", "auth/signup", { password: goodPassword, ...fields });
}

export function login(
  c: Client,
  fields: { email?: string; username?: string; password?: string },
): Promise<ClientResponse> {
  return c.request("POST", "auth/login", { password: goodPassword, ...fields });
}

/**
 * 200 with `data.user`, `data.methods` and `meta.is_authenticated: true` (AuthenticatedResponse).
 * `app`: a new `meta.session_token` is handed out (login); `app-session`: the app's existing
 * token is not repeated; `browser`: never a token in the body.
 */
export function expectAuthenticated(
  res: ClientResponse,
  user: { id?: string; email?: string | null; username?: string | null },
  client: "browser" | "app" | "app-session",
): void {
  expect(res.status).toBe(200);
  expect(res.body.status).toBe(200);
  expect(res.body.data.user).toMatchObject({
    ...(user.id === undefined ? {} : { id: user.id }),
    ...(user.email == null ? {} : { email: user.email }),
    ...(user.username == null ? {} : { username: user.username }),
    has_usable_password: true,
  });
  // allauth's `serialize_user` leaves an empty email or username out instead of sending null.
  for (const key of ["email", "username"] as const) {
    if (user[key] === null) {
      expect(res.body.data.user).not.toHaveProperty(key);
    }
  }
  expect(typeof res.body.data.user.id).toBe("string");
  expect(typeof res.body.data.user.display).toBe("string");
  // Records as allauth writes them (a signup writes none); the flows' own tests pin the entries.
  expect(Array.isArray(res.body.data.methods)).toBe(true);
  for (const record of res.body.data.methods) {
    expect(record).toMatchObject({ method: expect.any(String), at: expect.any(Number) });
  }
  expect(res.body.meta.is_authenticated).toBe(true);
  if (client === "app") {
    expect(res.body.meta.session_token).toEqual(expect.any(String));
  } else {
    expect(res.body.meta).not.toHaveProperty("session_token");
  }
}

/** 401 with the `verify_email` flow pending (UnauthenticatedPendingEmailVerification). */
export function expectPendingVerification(res: ClientResponse): void {
  expect(res.status).toBe(401);
  expect(res.body.status).toBe(401);
  expect(res.body.data.flows).toContainEqual({ id: "verify_email", is_pending: true });
  expect(res.body.meta.is_authenticated).toBe(false);
  expect(res.body.data).not.toHaveProperty("user");
}

/** 401 with no pending flow at all. */
export function expectNotAuthenticated(res: ClientResponse): void {
  expect(res.status).toBe(401);
  expect(res.body.status).toBe(401);
  expect(res.body.data.flows).toEqual(expect.arrayContaining([{ id: "login" }, { id: "signup" }]));
  expect(res.body.data.flows.filter((f: { is_pending?: boolean }) => f.is_pending === true)).toEqual([]);
  expect(res.body.meta.is_authenticated).toBe(false);
  expect(res.body.data).not.toHaveProperty("user");
}

/** 400 with exactly these `{ param, code }` errors, each with a message. */
export function expectErrors(res: ClientResponse, errors: ReadonlyArray<{ param?: string; code: string }>): void {
  expect(res.status).toBe(400);
  expect(res.body.status).toBe(400);
  expect(res.body.errors).toEqual(
    errors.map((e) => ({ ...e, message: expect.stringMatching(/\S/) })),
  );
}

/** A bare status body (403, 409, 429). */
export function expectStatus(res: ClientResponse, status: number): void {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ status });
}

export const linkPattern = /verify-email\/[^\s]+/;
export const codeLinePattern = /^[A-Z]{4}-[A-Z]{4}$/m;

/** A link-mode confirmation mail to `to`: subject, a link, no code. */
export function expectLinkMail(mail: Mail | undefined, to: string): void {
  expect(mail).toBeDefined();
  expect(mail!.to).toBe(to);
  expect(mail!.subject).toBe("[example.com] Please Confirm Your Email Address");
  expect(mail!.text).toMatch(linkPattern);
  expect(mail!.text).not.toMatch(codeLinePattern);
}

/** A code-mode confirmation mail to `to`: subject, a code on its own line, no link. */
export function expectCodeMail(mail: Mail | undefined, to: string): void {
  expect(mail).toBeDefined();
  expect(mail!.to).toBe(to);
  expect(mail!.subject).toBe("[example.com] Please Confirm Your Email Address");
  expect(mail!.text).toMatch(codeLinePattern);
  expect(mail!.text).not.toMatch(linkPattern);
  expect(mail!.text).not.toMatch(/https?:\/\//);
}

/** A request sent straight to the handler (no harness cookie/CSRF handling). */
export async function raw(
  h: Harness,
  method: string,
  path: string,
  init: { body?: unknown; headers?: Record<string, string>; ip?: string } = {},
): Promise<ClientResponse> {
  const headers: Record<string, string> = { "user-agent": "vitest", ...(init.headers ?? {}) };
  if (init.body !== undefined) {
    headers["content-type"] = "application/json";
  }
  const response = await h.auth.handler(
    new Request(`http://127.0.0.1/_allauth/${path}`, {
      method,
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    }),
    { ip: init.ip ?? "10.9.9.9" },
  );
  await h.auth.outbox.settled();
  const text = await response.text();
  const body = text === "" ? null : JSON.parse(text);
  await validateApiResponse(method, `/_allauth/${path}`, response.status, body);
  return { status: response.status, body, headers: response.headers };
}

/** The names of the cookies a response sets (deleted ones included). */
export function setCookieNames(res: ClientResponse): Array<string> {
  return res.headers
    .getSetCookie()
    .map((c) => c.split("=")[0]!)
    .sort();
}

/**
 * ann@example.com signed up (on a harness with `loginByCodeEnabled`), then a login code requested
 * on a fresh app client; the mails and signals so far are taken. The client and the mailed code.
 */
export async function loginCodeRequested(h: Harness): Promise<{ client: Client; code: string }> {
  await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
  h.takeMails();
  h.takeSignals();
  const client = h.app();
  await client.request("POST", "auth/code/request", { email: "ann@example.com" });
  return { client, code: codeFromMail(h.takeMails()[0]!) };
}
