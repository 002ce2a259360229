/**
 * Shared by the walks of ALLAUTH-ERRORS.md §6–§10, §13 and §14 (the code-flow endpoints), on top
 * of the walk's `support.ts`: harnesses, the texts of these sections, and "nothing written" for
 * code flows — no account, address, verification or outbox row, no mail, no signal. (A code
 * flow's own row and the session's pending stage are where allauth counts attempts: a counted
 * wrong code changes them by design.)
 */
import { expect } from "vitest";
import type { AccountConfig } from "../../src/config.ts";
import { harness } from "../support/harness.ts";
import type { ClientResponse, Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";
import { expectAllauthErrors, expectBareStatus, text } from "./support.ts";

export { client, clients } from "./support.ts";
export type { ClientKind } from "./support.ts";

export const messages = {
  required: text.required,
  invalidEmail: text.invalidEmail,
  unknownEmail: text.unknownEmailAccount,
  tooManyLoginAttempts: text.tooManyLogins,
  incorrectCode: "Incorrect code.",
  invalidOrExpiredKey: "Invalid or expired key.",
  emailTaken: text.emailTaken,
  invalidPasswordReset: "The password reset token was invalid.",
  passwordTooShort: text.tooShort(15),
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

export interface ExpectedError {
  readonly code: string;
  readonly message: string;
  /** Absent when allauth sends no `param`. */
  readonly param?: string;
}

/** A 400 with exactly these errors, in this order (`param` absent where not given). */
export function expectErrors(res: ClientResponse, errors: ReadonlyArray<ExpectedError>): void {
  expectAllauthErrors(res, errors);
}

export const expectStatus = expectBareStatus;

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
