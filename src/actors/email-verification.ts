/**
 * Actors of the `email-verification` machine. Both routes end in `verifyAddress`, allauth's
 * `verify_email`: mark verified (refused when another account already verified the address),
 * make primary (always with `changeEmail`, else only when the user has none), and with
 * `changeEmail` delete the user's other addresses.
 */
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
import type { ConfirmEmailCodeInput, ConfirmEmailKeyInput, ConfirmEmailOutput } from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { fail } from "../errors.ts";
import type { Step } from "../runtime/step.ts";
import { normalizeCode, Tokens } from "../services/tokens.ts";
import { unusablePasswordPrefix } from "../services/password-hasher.ts";
import { lockKey } from "../storage/locks.ts";
import { deleteOtherSessions } from "../storage/sessions.ts";
import type { EmailAddressRow } from "../storage/users.ts";
import {
  deleteEmailAddress,
  findEmailAddressById,
  findEmailAddresses,
  findUserById,
  findUserEmailAddress,
  insertEmailAddress,
  listEmailAddresses,
  setPassword,
  setUserEmail,
  toEmailAddressRef,
  toUserRef,
  updateEmailAddress,
} from "../storage/users.ts";
import type { VerificationRow } from "../storage/verifications.ts";
import {
  consumeVerification,
  findVerificationById,
  lockedVerification,
  findVerificationByDigest,
} from "../storage/verifications.ts";
import type { CodeProcess, Reissue } from "./code-verification.ts";
import { codeVerificationActors } from "./code-verification.ts";
import { dropClaims } from "./email-claims.ts";
import { confirmEmailOwner, confirmEmailRule, consumeConfirmEmail, loginPipelineActors, queueVerification, verificationPurposes } from "./login-pipeline.ts";

/** The unverified address a verification names, if it still holds the mailed value. */
const pendingAddress = (verification: VerificationRow) =>
  Effect.gen(function* () {
    const row =
      verification.email_address_id === null ? null : yield* findEmailAddressById(verification.email_address_id);
    return row !== null && row.email === verification.email && Number(row.verified) === 0 ? row : null;
  });

/** Refuses an address another account already verified (`uniqueEmail`), under its lock. */
const refuseTaken = (row: Pick<EmailAddressRow, "id" | "email">, config: ResolvedConfig) =>
  Effect.gen(function* () {
    yield* lockKey(`email:${row.email}`);
    if (config.account.uniqueEmail) {
      const others = yield* findEmailAddresses(row.email);
      if (others.some((o) => o.id !== row.id && Number(o.verified) === 1)) {
        return yield* fail("email_taken", "key");
      }
    }
  });

/**
 * Did the password of `userId` come from this session: logged in as the user, or holding the
 * user's signup or password login parked until the address is verified?
 */
const sessionHoldsPassword = (step: Step, userId: string) => {
  const login = step.session.data.pending?.login ?? null;
  return (
    step.session.user?.id === userId ||
    (login !== null && login.userId === userId && (login.signup || login.method === "password"))
  );
};

/**
 * The account's only address is proved by someone who did not set its password (a pre-account
 * takeover: someone signed up with another person's address): that password becomes unusable,
 * the account's other sessions end, and the address is told.
 */
const securePreAccount = (step: Step, row: EmailAddressRow, config: ResolvedConfig) =>
  Effect.gen(function* () {
    const tokens = yield* Tokens;
    const user = yield* findUserById(row.user_id);
    if (user === null || sessionHoldsPassword(step, user.id)) {
      return;
    }
    if (!user.password.startsWith(unusablePasswordPrefix)) {
      yield* setPassword(user.id, `${unusablePasswordPrefix}${tokens.key()}`);
    }
    yield* deleteOtherSessions(user.id, step.session.id);
    step.mail({ kind: "account_secured", to: row.email, userId: user.id });
  });

export const verifyAddress = (step: Step, row: EmailAddressRow, config: ResolvedConfig) =>
  Effect.gen(function* () {
    yield* refuseTaken(row, config);
    // Someone else's claim on the address (SECURITY.md EM-09) goes once the address is proved here.
    yield* dropClaims(row);
    const siblings = (yield* listEmailAddresses(row.user_id)).filter((a) => a.id !== row.id);
    if (siblings.length === 0) {
      yield* securePreAccount(step, row, config);
    }
    const from = siblings[0] ?? null;
    const hasPrimary = siblings.some((a) => Number(a.is_primary) === 1);
    const makePrimary = config.account.changeEmail || !hasPrimary;
    if (makePrimary) {
      for (const sibling of siblings.filter((a) => Number(a.is_primary) === 1)) {
        yield* updateEmailAddress({ ...sibling, is_primary: 0 });
      }
    }
    const verified = { ...row, verified: 1, is_primary: makePrimary ? 1 : Number(row.is_primary) };
    yield* updateEmailAddress(verified);
    if (makePrimary) {
      yield* setUserEmail(row.user_id, row.email);
    }
    if (config.account.changeEmail) {
      for (const sibling of siblings) {
        yield* deleteEmailAddress(sibling.id);
      }
      if (from !== null && config.account.emailNotifications) {
        // allauth: the "email changed" notice goes to the old address.
        step.mail({ kind: "email_changed", to: from.email, userId: row.user_id });
      }
    }
    const user = toUserRef((yield* findUserById(row.user_id))!);
    return {
      user,
      emailAddress: toEmailAddressRef(verified),
      fromEmailAddress: config.account.changeEmail && from !== null ? toEmailAddressRef(from) : null,
      added: false,
    } satisfies ConfirmEmailOutput;
  });

/**
 * Email verification's resend: a new code for the address the process verifies, under the
 * cooldown (429 when hit). A flow that can never succeed sends nothing, under the same rules.
 */
export const reissueVerificationCode =
  (step: Step, config: ResolvedConfig, process: CodeProcess | null): Reissue =>
  (previous) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis;
      // The `confirm_email` limit of the address (code mode: 1/10s), shared with the first mail.
      // A flow that cannot succeed mailed nothing real: its start stands for that first mail.
      const rule = confirmEmailRule(config);
      const startedRecently = previous === null && process !== null && rule !== null && now - process.startedAt < rule.periodInMs;
      if (startedRecently || !(yield* consumeConfirmEmail(config, previous === null ? null : yield* confirmEmailOwner(previous.user_id), previous?.email ?? process?.flowId ?? "", now))) {
        return "rate_limited" as const;
      }
      if (previous === null) {
        return { verificationId: null, confirmation: null, signup: false };
      }
      const row = previous.email_address_id === null ? null : yield* findEmailAddressById(previous.email_address_id);
      const sent = yield* queueVerification(step, config, { userId: previous.user_id, email: previous.email, row }, { limitTaken: true }).pipe(
        Effect.orDie, // the limit was taken above: nothing left to refuse
      );
      return { verificationId: sent.verificationId, confirmation: sent.confirmation, signup: sent.signup ?? false };
    });

export function emailVerificationActors(step: Step, config: ResolvedConfig, process: CodeProcess | null = null) {
  return {
    ...loginPipelineActors(step, config),
    confirmEmailKey: fromPromise<ConfirmEmailOutput, ConfirmEmailKeyInput>(async ({ input }) => {
      const purpose = verificationPurposes.link;
      const found = await step.run(
        Effect.gen(function* () {
          const tokens = yield* Tokens;
          const now = yield* Clock.currentTimeMillis;
          const key = input.key.reveal();
          const verification =
            key.length === 0 || key.length > 256
              ? null
              : yield* findVerificationByDigest(purpose, tokens.digest(purpose, key));
          if (verification === null || verification.used_at !== null || verification.expires_at <= now) {
            return null;
          }
          return (yield* pendingAddress(verification)) === null ? null : verification;
        }),
      );
      if (found === null) {
        throw { code: "invalid_or_expired_key", param: "key" };
      }
      return step.write(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis;
          // Single use: only one of two concurrent confirmations flips `used_at`.
          const row = yield* pendingAddress(found);
          if (row === null) {
            return yield* fail("invalid_or_expired_key", "key");
          }
          // Refused before the key is used up: an error writes nothing.
          yield* refuseTaken(row, config);
          if (!(yield* consumeVerification(found.id, now))) {
            return yield* fail("invalid_or_expired_key", "key");
          }
          return yield* verifyAddress(step, row, config);
        }),
      );
    }),
    confirmEmailCode: fromPromise<ConfirmEmailOutput, ConfirmEmailCodeInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const tokens = yield* Tokens;
          const now = yield* Clock.currentTimeMillis;
          const verification = yield* lockedVerification(input.verificationId);
          if (verification !== null) {
            // Refused before the code is used up: an error writes nothing.
            yield* refuseTaken({ id: verification.email_address_id ?? "", email: verification.email }, config);
          }
          // Single use: of two right codes at once, only one confirms.
          if (verification === null || !(yield* consumeVerification(verification.id, now))) {
            return yield* fail("flow_not_pending");
          }
          if (verification.email_address_id === null) {
            // Code-mode add: the address is stored only now that its code was right.
            const row: EmailAddressRow = {
              id: tokens.id(),
              user_id: verification.user_id,
              email: verification.email,
              verified: 0,
              is_primary: 0,
            };
            if ((yield* findUserEmailAddress(row.user_id, row.email)) !== null) {
              return yield* fail("duplicate_email", "key");
            }
            yield* insertEmailAddress(row);
            return { ...(yield* verifyAddress(step, row, config)), added: true };
          }
          const row = yield* pendingAddress(verification);
          if (row === null) {
            return yield* fail("flow_not_pending");
          }
          return yield* verifyAddress(step, row, config);
        }),
      ),
    ),
    ...codeVerificationActors(step, process, reissueVerificationCode(step, config, process)),
  };
}
