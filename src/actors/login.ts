/** Actors of the `login` machine. */
import { createHash } from "node:crypto";
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
import type { AuthenticateOutput, LoginForm } from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import type { Step } from "../runtime/step.ts";
import type { AddressOwner, EmailAddressRow, UserRow } from "../storage/users.ts";
import {
  findAddressOwners,
  findUserByUsername,
  listEmailAddresses,
  toEmailAddressRef,
  toUserRef,
} from "../storage/users.ts";
import { accountFailureKey, loginFailureBuckets, returnLoginAttempt, takeLoginAttempt } from "./login-failures.ts";
import { isConfirmEmailSpent, loginPipelineActors } from "./login-pipeline.ts";

interface Candidate {
  readonly user: UserRow;
  readonly address: EmailAddressRow | null;
  /** The user's addresses, when the lookup read them with the user. */
  readonly addresses?: ReadonlyArray<EmailAddressRow>;
  /** The address the login typed, cleaned (null for a username login). */
  readonly typed: string | null;
}

/** The account a login names: by address (held before claimed, verified first) or by username. */
const findCandidate = (form: LoginForm, account: ResolvedConfig["account"]) =>
  Effect.gen(function* () {
    if (form.email !== null) {
      const email = cleanEmail(form.email, account.emailMaxLength);
      if (email === null) {
        return null;
      }
      // One statement: each account with a row for the address, its user and all its addresses.
      const owners = yield* findAddressOwners(email);
      // A claim (SECURITY.md EM-09: an unverified row of an account that has a verified address)
      // names its account only while no other account holds the address.
      const isClaim = (owner: AddressOwner) =>
        Number(owner.address.verified) === 0 && owner.addresses.some((row) => Number(row.verified) === 1);
      const held = owners.filter((owner) => !isClaim(owner));
      const named = held.length > 0 ? held : owners;
      const chosen = [...named].sort((a, b) => Number(b.address.verified) - Number(a.address.verified))[0];
      return chosen === undefined
        ? null
        : ({ user: chosen.user, address: chosen.address, addresses: chosen.addresses, typed: email } satisfies Candidate);
    }
    const user =
      form.username === null || !isUsernameShaped(form.username) ? null : yield* findUserByUsername(form.username);
    return user === null ? null : ({ user, address: null, typed: null } satisfies Candidate);
  });

/**
 * The `login_failed` key of this attempt. An address is keyed by its canonical form (the one the
 * lookup uses), so respelling it (case, fullwidth or U-label domain) does not open a fresh bucket
 * for the same account.
 */
function failureKey(form: LoginForm): string {
  const typed = (form.email ?? form.username ?? "").trim().toLowerCase();
  const key = form.email === null ? (isUsernameShaped(typed) ? typed : null) : cleanEmail(form.email);
  // Input that names no possible account is keyed by its digest: raw bytes (NUL…) never reach SQL.
  return key ?? `invalid:${createHash("sha256").update(typed).digest("hex")}`;
}

/** The identifier a login typed, as the authentication log shows it: a short digest. */
function identifierDigest(form: LoginForm): string {
  return createHash("sha256").update(failureKey(form)).digest("hex").slice(0, 16);
}

/** Whether `value` could be a stored username at all (else it names nobody; no query). */
function isUsernameShaped(value: string): boolean {
  return /^[A-Za-z0-9@.+_-]{1,150}$/.test(value);
}

export function loginActors(step: Step, config: ResolvedConfig) {
  const account = config.account;
  return {
    ...loginPipelineActors(step, config),
    authenticatePassword: fromPromise<AuthenticateOutput, LoginForm>(async ({ input }) => {
      const mismatch = input.email !== null ? "email_password_mismatch" : "username_password_mismatch";
      // Per account once the identifier names one, per identifier otherwise.
      const candidate = await step.run(findCandidate(input, account));
      const key = candidate === null ? failureKey(input) : accountFailureKey(candidate.user.id);
      const attempt = await takeLoginAttempt(step, config, loginFailureBuckets(step.request.ip, key));
      const who = { userId: candidate?.user.id ?? null, identifier: candidate === null ? identifierDigest(input) : null };
      if (attempt === "limited") {
        // The request's `login` limit is spent: it answers 429 (login.ts), with no event.
        throw { code: "too_many_login_attempts" };
      }
      if (attempt === null) {
        step.authEvents.push({ action: "login", outcome: "throttled", method: "password", ...who });
        throw { code: "too_many_login_attempts" };
      }
      const ok = await step.verifyPassword(candidate?.user.password ?? null, input.password.reveal());
      step.authEvents.push({ action: "login", outcome: ok && candidate !== null ? "success" : "failure", method: "password", ...who });
      if (!ok || candidate === null) {
        throw { code: mismatch, param: "password" };
      }
      // Transparent upgrade (SECURITY.md CR-11): hashed here, outside the transaction; stored when the session starts.
      const rehashed = step.needsRehash(candidate.user.password) ? await step.hash(input.password.reveal()) : null;
      step.checkedPassword = {
        userId: candidate.user.id,
        hash: candidate.user.password,
        error: { code: mismatch, param: "password" },
        rehashed,
      };
      returnLoginAttempt(step, attempt);
      const addresses = candidate.addresses ?? (await step.run(listEmailAddresses(candidate.user.id)));
      // allauth's `is_login_rate_limited`: the code this login would mail cannot be sent.
      const typed = candidate.typed;
      const address = typed === null ? undefined : addresses.find((a) => a.email.toLowerCase() === typed.toLowerCase());
      if (
        account.emailVerification === "mandatory" &&
        account.emailVerificationByCodeEnabled &&
        address !== undefined &&
        Number(address.verified) === 0 &&
        (await step.run(
          Effect.gen(function* () {
            const owner = addresses.some((a) => Number(a.verified) === 1) ? candidate.user.id : null;
            return yield* isConfirmEmailSpent(config, owner, address.email, yield* Clock.currentTimeMillis);
          }),
        ))
      ) {
        throw { code: "too_many_login_attempts" };
      }
      return {
        user: toUserRef(candidate.user),
        emailAddress: candidate.address === null ? null : toEmailAddressRef(candidate.address),
        hasVerifiedEmail: addresses.some((a) => Number(a.verified) === 1),
      };
    }),
  };
}

