/**
 * Shared by the ALLAUTH-ERRORS.md walk: one file per endpoint group, each row of the document a
 * case, run for the app and the browser client. The expected texts are written out here from
 * ALLAUTH-ERRORS.md (not imported from the library's error table), so a drift in the table fails.
 */
import { afterEach, expect } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import type { CreateAuthOptions } from "../../src/auth.ts";
import { fastHasher } from "../http/support.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Client, ClientResponse, Harness } from "../support/harness.ts";

export const clients = ["app", "browser"] as const;
export type ClientKind = (typeof clients)[number];

export function client(h: Harness, kind: ClientKind): Client {
  return kind === "app" ? h.app() : h.browser();
}

/** A harness with the fast hasher, email login and no verification unless `account` says so. */
export function openHarness(
  account: NonNullable<AuthConfig["account"]> = {},
  config: Partial<AuthConfig> = {},
  options: CreateAuthOptions = {},
): Promise<Harness> {
  return harness({ passwordHasher: fastHasher, account: { loginMethods: ["email"], emailVerification: "none", ...account }, ...config }, options);
}

/**
 * The `open` of a test file: each call opens a harness (`openHarness`, with `options`, e.g. a
 * test clock) that is closed after the test, and hands it to `set` (the file's `h`).
 */
export function perTest(
  set: (h: Harness) => void,
  options: CreateAuthOptions = {},
): (account?: NonNullable<AuthConfig["account"]>, config?: Partial<AuthConfig>) => Promise<Harness> {
  let current: Harness | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return async (account = {}, config = {}) => {
    current = await openHarness(account, config, options);
    set(current);
    return current;
  };
}

/**
 * Signs up `fields` (Ann by default) in a new client of `kind`; the signup must answer
 * `status`. Everything recorded is cleared, so a case starts from silence.
 */
export async function signedUp(
  h: Harness,
  kind: ClientKind,
  fields: Record<string, string> = {},
  status: ReadonlyArray<number> = [200],
): Promise<Client> {
  const c = client(h, kind);
  const res = await c.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword, ...fields });
  expect(status).toContain(res.status);
  h.takeSignals();
  h.takeMails();
  return c;
}

/** One item of allauth's `errors` array; `param` left out means the key must be absent. */
export interface AllauthError {
  readonly param?: string;
  readonly code: string;
  readonly message: string;
}

export function err(code: string, message: string, param?: string): AllauthError {
  return param === undefined ? { code, message } : { param, code, message };
}

/** Django's and allauth's texts that several endpoints share (ALLAUTH-ERRORS.md §0). */
export const text = {
  required: "This field is required.",
  invalidEmail: "Enter a valid email address.",
  maxLength: (limit: number, length: number) =>
    `Ensure this value has at most ${limit} character${limit === 1 ? "" : "s"} (it has ${length}).`,
  minLength: (limit: number, length: number) =>
    `Ensure this value has at least ${limit} character${limit === 1 ? "" : "s"} (it has ${length}).`,
  tooShort: (min: number) => `This password is too short. It must contain at least ${min} character${min === 1 ? "" : "s"}.`,
  tooCommon: "This password is too common.",
  numeric: "This password is entirely numeric.",
  similar: (attribute: string) => `The password is too similar to the ${attribute}.`,
  tooManyLogins: "Too many failed login attempts. Try again later.",
  emailTaken: "A user is already registered with this email address.",
  unknownEmailAccount: "The email address is not assigned to any user account.",
  unknownEmailHeadless: "Unknown email address.",
} as const;

/**
 * A 400 exactly as allauth's `ErrorResponse`: `{ status: 400, errors }` and nothing else (no
 * `data`, no `meta`), the errors in this order, each with exactly these keys.
 */
export function expectAllauthErrors(res: ClientResponse, errors: ReadonlyArray<AllauthError>): void {
  expect(res.status).toBe(400);
  expect(res.headers.get("content-type")).toBe("application/json");
  expect(res.body).toStrictEqual({ status: 400, errors: errors.map((e) => ({ ...e })) });
}

/** A status-only answer (`{ status }` alone): 403, 409, 429. */
export function expectBareStatus(res: ClientResponse, status: number): void {
  expect(res.status).toBe(status);
  expect(res.body).toStrictEqual({ status });
}

/** Django's `HttpResponseBadRequest`: 400 with an empty body that is not JSON. */
export function expectEmptyBadRequest(res: ClientResponse): void {
  expect(res.status).toBe(400);
  expect(res.body).toBeNull();
  expect(res.headers.get("content-type")).toBeNull();
}

/** Tables whose rows an error must leave alone (rate-limit hits are allauth's cache, not data). */
const dataTables = ["auth_user", "auth_email_address", "auth_session", "auth_flow", "auth_verification", "auth_outbox"];

/** Every row of the data tables, to compare before and after a refused request. */
export async function dataRows(h: Harness): Promise<Record<string, ReadonlyArray<unknown>>> {
  const out: Record<string, ReadonlyArray<unknown>> = {};
  for (const table of dataTables) {
    const rows = await h.query<Record<string, unknown>>(`SELECT * FROM ${table}`);
    out[table] = rows.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).sort();
  }
  return out;
}

/**
 * Sends `send` and asserts it wrote no data row, queued no mail and emitted no signal; returns
 * the response for the caller's own assertions.
 */
export async function withoutWrites(h: Harness, send: () => Promise<ClientResponse>): Promise<ClientResponse> {
  const before = await dataRows(h);
  const mails = h.mails.length;
  h.takeSignals();
  const res = await send();
  expect(await dataRows(h)).toEqual(before);
  expect(h.mails.length).toBe(mails);
  expect(h.takeSignals()).toEqual([]);
  return res;
}
