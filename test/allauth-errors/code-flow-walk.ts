/**
 * Shared by the walks of ALLAUTH-ERRORS.md §6–§10, §13 and §14 (the code-flow endpoints): a
 * harness per client kind, the exact error body, and "nothing written" — no mail, no signal,
 * no account, address, verification or session row changed.
 */
import { expect } from "vitest";
import type { AccountConfig } from "../../src/config.ts";
import { harness } from "../support/harness.ts";
import type { Client, ClientResponse, Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

export const clients = ["app", "browser"] as const;
export type ClientKind = (typeof clients)[number];

export const messages = {
  required: "This field is required.",
  invalidEmail: "Enter a valid email address.",
  unknownEmail: "The email address is not assigned to any user account.",
  tooManyLoginAttempts: "Too many failed login attempts. Try again later.",
  incorrectCode: "Incorrect code.",
  invalidOrExpiredKey: "Invalid or expired key.",
  emailTaken: "A user is already registered with this email address.",
  invalidPasswordReset: "The password reset token was invalid.",
  passwordTooShort: "This password is too short. It must contain at least 15 characters.",
} as const;

const opened: Array<Harness> = [];

export async function closeAll(): Promise<void> {
  for (const h of opened.splice(0)) {
    await h.close();
  }
}

export async function open(account: AccountConfig, layer?: Parameters<typeof harness>[1]): Promise<Harness> {
  const h = await harness({ account, passwordHasher: fastHasher }, layer ?? {});
  opened.push(h);
  return h;
}

export function client(h: Harness, kind: ClientKind): Client {
  return kind === "app" ? h.app() : h.browser();
}

export interface ExpectedError {
  readonly code: string;
  readonly message: string;
  /** Absent when allauth sends no `param`. */
  readonly param?: string;
}

/** A 400 with exactly these errors, in this order (`param` absent where not given). */
export function expectErrors(res: ClientResponse, errors: ReadonlyArray<ExpectedError>): void {
  expect(res.status).toBe(400);
  expect(res.body).toEqual({
    status: 400,
    errors: errors.map((e) => (e.param === undefined ? { message: e.message, code: e.code } : { message: e.message, code: e.code, param: e.param })),
  });
  for (const [i, e] of errors.entries()) {
    expect(Object.hasOwn(res.body.errors[i], "param")).toBe(e.param !== undefined);
  }
}

export function expectStatus(res: ClientResponse, status: number): void {
  expect([res.status, res.body]).toEqual([status, { status }]);
}

/** What the durable state looks like (accounts, addresses, verifications, sessions, outbox). */
export async function state(h: Harness): Promise<string> {
  const tables = ["auth_user", "auth_email_address", "auth_verification", "auth_outbox"];
  const rows = await Promise.all(tables.map((t) => h.query(`SELECT * FROM ${t} ORDER BY 1`)));
  return JSON.stringify(rows);
}

/** Runs `send` and checks that it wrote nothing durable, mailed nothing and emitted nothing. */
export async function writesNothing(h: Harness, send: () => Promise<ClientResponse>): Promise<ClientResponse> {
  const before = await state(h);
  const mails = h.mails.length;
  const signals = h.signals.length;
  const res = await send();
  expect(await state(h)).toBe(before);
  expect(h.mails.slice(mails)).toEqual([]);
  expect(h.signals.slice(signals).map((s) => s.type)).toEqual([]);
  return res;
}
