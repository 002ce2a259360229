/**
 * Actors of the `manage-email` machine (allauth `flows/manage_email` and its adapter checks:
 * `can_delete_email`, `can_mark_as_primary`, `ACCOUNT_MAX_EMAIL_ADDRESSES`).
 */
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
import type {
  AddEmailOutput,
  ChangePendingEmailInput,
  ChangePendingEmailOutput,
  ManageEmailCheck,
  ManageEmailTarget,
  MarkPrimaryOutput,
  RemoveEmailOutput,
  ResendVerificationOutput,
} from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { fail } from "../errors.ts";
import type { Step } from "../runtime/step.ts";
import { Tokens } from "../services/tokens.ts";
import { lockKey } from "../storage/locks.ts";
import type { EmailAddressRow } from "../storage/users.ts";
import {
  deleteEmailAddress,
  findEmailAddresses,
  findUserById,
  findUserEmailAddress,
  insertEmailAddress,
  listEmailAddresses,
  setUserEmail,
  toEmailAddressRef,
  toUserRef,
  updateEmailAddress,
} from "../storage/users.ts";
import { revokeVerifications } from "../storage/verifications.ts";
import { queueVerification, takeCodeMail, verificationPurposes } from "./login-pipeline.ts";

const isVerified = (row: EmailAddressRow): boolean => Number(row.verified) === 1;
const isPrimary = (row: EmailAddressRow): boolean => Number(row.is_primary) === 1;

/** The user's stored address for a typed one, or a failure on `email`. */
const ownAddress = (target: ManageEmailTarget, maxLength: number) =>
  Effect.gen(function* () {
    yield* lockKey(`user:${target.userId}`);
    const email = cleanEmail(target.email, maxLength);
    const row = email === null ? null : yield* findUserEmailAddress(target.userId, email);
    return row === null ? yield* fail("unknown_email_address", "email") : row;
  });

/** The canonical form of a typed address, or a failure on `email`. */
const typedAddress = (typed: string, maxLength: number) =>
  Effect.suspend(() => {
    const email = cleanEmail(typed, maxLength);
    return email === null ? Effect.fail(fail("invalid", "email")) : Effect.succeed(email);
  });

/**
 * The input checks of each guarded action (allauth's form `clean_email`): the action runs them
 * again, `checkEmail` runs them alone when reauthentication is due, and the edge runs
 * mark-primary's to report them beside another field's error.
 */
function inputChecks(config: ResolvedConfig) {
  const account = config.account;
  const addChecks = (input: ManageEmailTarget) =>
    Effect.gen(function* () {
      const email = yield* typedAddress(input.email, account.emailMaxLength);
      yield* lockKey(`user:${input.userId}`);
      const mine = yield* listEmailAddresses(input.userId);
      if (mine.some((row) => row.email === email)) {
        return yield* fail("duplicate_email", "email");
      }
      const others = (yield* findEmailAddresses(email)).filter((row) => row.user_id !== input.userId);
      if (others.length > 0 && account.preventEnumeration === false) {
        return yield* fail("email_taken", "email");
      }
      if (!account.changeEmail && account.maxEmailAddresses !== null && mine.length >= account.maxEmailAddresses) {
        return yield* fail("max_email_addresses", "email");
      }
      return { email, mine };
    });
  const removeChecks = (input: ManageEmailTarget) =>
    Effect.gen(function* () {
      const row = yield* ownAddress(input, account.emailMaxLength);
      const mine = yield* listEmailAddresses(input.userId);
      // allauth's `can_delete_email`: not the primary while others exist, and not the last
      // address (primary or not) when email is the only login method — one code for all three.
      const emailOnly = account.loginMethods.length === 1 && account.loginMethods[0] === "email";
      if ((isPrimary(row) && mine.length > 1) || (mine.length === 1 && emailOnly)) {
        return yield* fail("cannot_remove_primary_email", "email");
      }
      return { row, mine };
    });
  const markChecks = (input: ManageEmailTarget) =>
    Effect.gen(function* () {
      const row = yield* ownAddress(input, account.emailMaxLength);
      const mine = yield* listEmailAddresses(input.userId);
      if (!isVerified(row) && mine.some(isVerified)) {
        return yield* fail("unverified_primary_email", "email");
      }
      return { row, mine };
    });
  const checks = {
    ADD: (input: ManageEmailTarget) => Effect.asVoid(addChecks(input)),
    REMOVE: (input: ManageEmailTarget) => Effect.asVoid(removeChecks(input)),
    MARK_PRIMARY: (input: ManageEmailTarget) => Effect.asVoid(markChecks(input)),
  } as const;
  return { addChecks, removeChecks, markChecks, checks };
}

/** The failure of `action`'s input checks on `target`, if any (reads only). */
export const manageEmailInputCheck = (config: ResolvedConfig, action: ManageEmailCheck["action"], target: ManageEmailTarget) =>
  inputChecks(config).checks[action](target);

export function manageEmailActors(step: Step, config: ResolvedConfig) {
  const account = config.account;
  const byCode = account.emailVerificationByCodeEnabled;
  const { addChecks, removeChecks, markChecks, checks } = inputChecks(config);
  return {
    checkEmail: fromPromise<void, ManageEmailCheck>(({ input }) => step.write(checks[input.action](input))),
    addEmail: fromPromise<AddEmailOutput, ManageEmailTarget>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const tokens = yield* Tokens;
          const { email, mine } = yield* addChecks(input);
          if (account.changeEmail) {
            // Single-address mode: a new address replaces any pending one, silently.
            for (const row of mine.filter((r) => !isVerified(r))) {
              yield* deleteEmailAddress(row.id);
            }
          }
          if (byCode) {
            const sent = yield* queueVerification(step, config, { userId: input.userId, email, row: null });
            return { emailAddress: null, confirmation: sent.confirmation, verificationId: sent.verificationId };
          }
          const row: EmailAddressRow = { id: tokens.id(), user_id: input.userId, email, verified: 0, is_primary: 0 };
          yield* insertEmailAddress(row);
          const sent = yield* queueVerification(step, config, { userId: input.userId, email, row });
          return { emailAddress: toEmailAddressRef(row), confirmation: sent.confirmation, verificationId: null };
        }),
      ),
    ),
    removeEmail: fromPromise<RemoveEmailOutput, ManageEmailTarget>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const { row, mine } = yield* removeChecks(input);
          yield* deleteEmailAddress(row.id);
          const rest = mine.filter((r) => r.id !== row.id);
          const user = (yield* findUserById(input.userId))!;
          if (user.email === row.email) {
            const next = rest.find(isPrimary) ?? rest.find(isVerified) ?? rest[0];
            yield* setUserEmail(input.userId, next?.email ?? "");
          }
          const after = (yield* findUserById(input.userId))!;
          // allauth mails the account's primary address (not the removed one), if it still has one.
          const recipient = rest.find(isPrimary)?.email ?? after.email;
          if (account.emailNotifications && recipient !== "") {
            step.mail({ kind: "email_removed", to: recipient, userId: input.userId, email: row.email });
          }
          return { user: toUserRef(after), emailAddress: toEmailAddressRef(row) };
        }),
      ),
    ),
    markPrimary: fromPromise<MarkPrimaryOutput, ManageEmailTarget>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const { row, mine } = yield* markChecks(input);
          const from = mine.find(isPrimary) ?? null;
          if (from !== null && from.id !== row.id) {
            yield* updateEmailAddress({ ...from, is_primary: 0 });
          }
          const to = { ...row, is_primary: 1 };
          yield* updateEmailAddress(to);
          yield* setUserEmail(input.userId, row.email);
          if (from !== null && account.emailNotifications) {
            step.mail({ kind: "email_changed", to: from.email, userId: input.userId });
          }
          return {
            user: toUserRef((yield* findUserById(input.userId))!),
            fromEmailAddress: from === null ? null : toEmailAddressRef(from.id === row.id ? to : from),
            toEmailAddress: toEmailAddressRef(to),
          };
        }),
      ),
    ),
    changePendingEmail: fromPromise<ChangePendingEmailOutput, ChangePendingEmailInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const tokens = yield* Tokens;
          const email = yield* typedAddress(input.email, account.emailMaxLength);
          if (input.email.trim() === input.current) {
            return yield* fail("same_as_current", "email");
          }
          yield* lockKey(`user:${input.userId}`);
          yield* lockKey(`email:${email}`);
          const user = (yield* findUserById(input.userId))!;
          const signup = user.last_login === null;
          // allauth's `email_already_exists` (signup's rule): any account holding it, this one too.
          const taken = account.uniqueEmail && (yield* findEmailAddresses(email)).length > 0;
          if (taken && account.preventEnumeration !== "strict") {
            if (account.preventEnumeration === false || account.emailVerification !== "mandatory") {
              return yield* fail("email_taken", "email");
            }
            // Hidden: the old code dies, the new address's owner is told, nothing is stored.
            const now = yield* Clock.currentTimeMillis;
            yield* takeCodeMail(config, null, email, now);
            yield* revokeVerifications(input.userId, verificationPurposes.code, now);
            step.mail({ kind: "account_exists", to: email, userId: null });
            return { emailAddress: null, confirmation: null, verificationId: null, signup };
          }
          // allauth's `add_new_email`: the unverified address is replaced by a new, non-primary one.
          const mine = yield* listEmailAddresses(input.userId);
          const replaced = mine.filter((r) => !isVerified(r)).at(-1);
          if (replaced !== undefined) {
            yield* deleteEmailAddress(replaced.id);
          }
          const row: EmailAddressRow = { id: tokens.id(), user_id: input.userId, email, verified: 0, is_primary: 0 };
          yield* insertEmailAddress(row);
          yield* setUserEmail(input.userId, email);
          const sent = yield* queueVerification(step, config, { userId: input.userId, email, row });
          return { emailAddress: toEmailAddressRef(row), confirmation: sent.confirmation, verificationId: sent.verificationId, signup };
        }),
      ),
    ),
    resendVerification: fromPromise<ResendVerificationOutput, ManageEmailTarget>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          // (The address a code-mode add waits for is resent by its process, not here.)
          // allauth sends to a verified address as well (`send_verification_email_to_address`).
          const row = yield* ownAddress(input, account.emailMaxLength);
          return yield* queueVerification(step, config, { userId: input.userId, email: row.email, row });
        }),
      ),
    ),
  };
}
