/**
 * Actors of the `password-reset` machine. A reset key or code is bound to the user's state when
 * it was issued (password hash, last login, email addresses: Django's and allauth's token rule),
 * so a login, a password change or any change to the emails kills it; it is single use, and
 * expires (link: `passwordResetTimeout`, code: `passwordResetByCodeTimeout`).
 */
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
import type {
  CheckResetKeyInput,
  CheckResetKeyOutput,
  ConfirmResetCodeInput,
  ConfirmResetCodeOutput,
  HashNewPasswordInput,
  HashNewPasswordOutput,
  RequestPasswordResetInput,
  RequestPasswordResetOutput,
  ResetPasswordInput,
  ResetPasswordOutput,
} from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { checkPassword } from "../domain/password.ts";
import { Secret } from "../../machines/secret.ts";
import { fail } from "../errors.ts";
import { keyOrCode } from "../mails.ts";
import { endSession } from "../runtime/session.ts";
import type { Step } from "../runtime/step.ts";
import { normalizeCode, Tokens } from "../services/tokens.ts";
import { deleteAllUserSessions } from "../storage/sessions.ts";
import type { UserRow } from "../storage/users.ts";
import {
  findEmailAddressById,
  findHeldEmailAddresses,
  findUserById,
  listEmailAddresses,
  setPassword,
  toEmailAddressRef,
  toUserRef,
} from "../storage/users.ts";
import type { VerificationRow } from "../storage/verifications.ts";
import {
  consumeVerification,
  findVerificationByDigest,
  findVerificationById,
  lockedVerification,
  insertVerification,
  revokeVerifications,
  setVerificationFingerprint,
} from "../storage/verifications.ts";
import { verifyAddress } from "./email-verification.ts";
import { accountFailureKey, clearLoginFailures } from "./login-failures.ts";
import type { CodeProcess, Reissue } from "./code-verification.ts";
import { codeVerificationActors } from "./code-verification.ts";
import { takeActionLimit } from "./limits.ts";
import { loginPipelineActors } from "./login-pipeline.ts";

export const resetPurposes = { link: "password_reset", code: "password_reset_code" } as const;

/** The user's state a reset key is bound to. */
const resetFingerprint = (user: UserRow) =>
  Effect.gen(function* () {
    const tokens = yield* Tokens;
    const emails = (yield* listEmailAddresses(user.id)).map((a) => `${a.email}:${a.verified}`).sort();
    return tokens.digest("reset-fingerprint", [user.id, user.password, user.last_login ?? "", ...emails].join("|"));
  });

/** A reset verification that is still good: unused, unexpired, and its user unchanged. */
const liveReset = (verification: VerificationRow | null, now: number) =>
  Effect.gen(function* () {
    if (verification === null || verification.used_at !== null || verification.expires_at <= now) {
      return null;
    }
    const user = yield* findUserById(verification.user_id);
    if (user === null || verification.fingerprint !== (yield* resetFingerprint(user))) {
      return null;
    }
    return { verification, user };
  });

/** The live reset a link key names, or `invalid_password_reset`. Reads only. */
export const findResetKey = (key: string) =>
  Effect.gen(function* () {
    const tokens = yield* Tokens;
    const now = yield* Clock.currentTimeMillis;
    const found =
      key.length === 0 || key.length > 256
        ? null
        : yield* liveReset(yield* findVerificationByDigest(resetPurposes.link, tokens.digest(resetPurposes.link, key)), now);
    if (found === null) {
      return yield* fail("invalid_password_reset", "key");
    }
    const address =
      found.verification.email_address_id === null ? null : yield* findEmailAddressById(found.verification.email_address_id);
    return {
      user: toUserRef(found.user),
      verificationId: found.verification.id,
      emailAddress: address === null ? null : toEmailAddressRef(address),
    } satisfies CheckResetKeyOutput;
  });

/** Password reset by code has no resend (allauth neither): nothing is ever mailed again. */
const noReissue: Reissue = () => Effect.succeed({ verificationId: null, confirmation: null, signup: false });

export function passwordResetActors(step: Step, config: ResolvedConfig, process: CodeProcess | null = null) {
  const account = config.account;
  const byCode = account.passwordResetByCodeEnabled;
  return {
    ...loginPipelineActors(step, config),
    ...codeVerificationActors(step, process, noReissue),
    requestPasswordReset: fromPromise<RequestPasswordResetOutput, RequestPasswordResetInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const tokens = yield* Tokens;
          const now = yield* Clock.currentTimeMillis;
          const email = cleanEmail(input.email, account.emailMaxLength);
          if (email === null) {
            return yield* fail("invalid", "email");
          }
          // A claim (SECURITY.md EM-09) is answered as an unknown address.
          const rows = [...(yield* findHeldEmailAddresses(email))].sort((a, b) => Number(b.verified) - Number(a.verified));
          const address = rows[0];
          const user = address === undefined ? null : yield* findUserById(address.user_id);
          if ((user === null || Number(user.is_active) !== 1) && account.preventEnumeration === false) {
            return yield* fail("unknown_email", "email");
          }
          // allauth takes its limit after the input is valid (per IP, and per address as key).
          if (!(yield* takeActionLimit(config, "resetPassword", { ip: step.request.ip, key: email }))) {
            return yield* fail("rate_limited");
          }
          if (address === undefined || user === null) {
            if (account.emailUnknownAccounts) {
              step.mail({ kind: "unknown_account", to: email, userId: null });
            }
            return { verificationId: null };
          }
          const purpose = byCode ? resetPurposes.code : resetPurposes.link;
          const secret = byCode ? tokens.code() : tokens.key();
          const id = tokens.id();
          const expiresAt = now + (byCode ? account.passwordResetByCodeTimeout : account.passwordResetTimeout) * 1000;
          yield* revokeVerifications(user.id, purpose, now);
          yield* insertVerification({
            id,
            purpose,
            digest: tokens.digest(purpose, byCode ? normalizeCode(secret) : secret),
            user_id: user.id,
            email_address_id: address.id,
            email: address.email,
            created_at: now,
            expires_at: expiresAt,
            fingerprint: yield* resetFingerprint(user),
          });
          step.mail({
            kind: "password_reset",
            to: address.email,
            userId: user.id,
            ...keyOrCode(config, { byCode, secret, template: config.frontendUrls.accountResetPasswordFromKey, origin: step.request.origin }),
            expiresAt,
          });
          return { verificationId: byCode ? id : null };
        }),
      ),
    ),
    checkResetKey: fromPromise<CheckResetKeyOutput, CheckResetKeyInput>(({ input }) =>
      step.run(findResetKey(input.key.reveal())),
    ),
    confirmResetCode: fromPromise<ConfirmResetCodeOutput, ConfirmResetCodeInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis;
          const found = yield* liveReset(yield* lockedVerification(input.verificationId), now);
          const verification = found?.verification ?? null;
          const address =
            verification?.email_address_id == null ? null : yield* findEmailAddressById(verification.email_address_id);
          if (found === null || address === null || address.email !== found.verification.email) {
            // The account changed since the code was mailed: the process is over.
            return yield* fail("flow_not_pending");
          }
          if (Number(address.verified) === 1) {
            return { user: toUserRef(found.user), emailAddress: toEmailAddressRef(address), verifiedNow: false };
          }
          // The code proves the address: it is verified now, before the new password.
          const verified = yield* Effect.either(verifyAddress(step, address, config));
          if (verified._tag === "Left") {
            return { user: toUserRef(found.user), emailAddress: toEmailAddressRef(address), verifiedNow: false };
          }
          // The change is the code's own doing: the code stays bound to the account as it is now.
          const owner = yield* findUserById(found.user.id);
          if (owner !== null) {
            yield* setVerificationFingerprint(found.verification.id, yield* resetFingerprint(owner));
          }
          return { user: verified.right.user, emailAddress: verified.right.emailAddress, verifiedNow: true };
        }),
      ),
    ),
    hashNewPassword: fromPromise<HashNewPasswordOutput, HashNewPasswordInput>(async ({ input }) => {
      const verification = input.verificationId === null ? null : await step.run(findVerificationById(input.verificationId));
      const owner = verification === null ? null : await step.run(findUserById(verification.user_id));
      if (owner === null && !byCode) {
        throw { code: "invalid_password_reset", param: "key" };
      }
      // A code flow for an unknown address has nobody to compare with, and checks the rest.
      const weak = checkPassword(
        input.password.reveal(),
        { minLength: account.passwordMinLength, maxLength: account.passwordMaxLength },
        owner === null ? { username: null, email: "" } : { username: owner.username, email: owner.email },
      );
      if (weak !== null) {
        throw weak;
      }
      return { passwordHash: new Secret(await step.hash(input.password.reveal())) };
    }),
    resetPassword: fromPromise<ResetPasswordOutput, ResetPasswordInput>(async ({ input }) => {
      if (input.endSession) {
        // Announced by `user_logged_out` when the key checked out: the other user is logged out
        // whatever happens to the reset itself (a key used or revoked meanwhile refuses it below).
        await step.write(endSession(step));
      }
      const verification = await step.run(findVerificationById(input.verificationId));
      const owner = verification === null ? null : await step.run(findUserById(verification.user_id));
      if (verification === null || owner === null) {
        throw { code: "invalid_password_reset", param: "key" };
      }
      const hash = input.passwordHash.reveal();
      return step.write(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis;
          // Single use: of two concurrent resets with one key, only one flips `used_at`.
          // A link key is re-checked inside the transaction: the account may have changed since.
          const stale = verification.purpose === resetPurposes.link && (yield* liveReset(verification, now)) === null;
          if (stale || !(yield* consumeVerification(verification.id, now))) {
            return yield* fail("invalid_password_reset", "key");
          }
          yield* setPassword(owner.id, hash);
          yield* revokeVerifications(owner.id, resetPurposes.link, now);
          yield* revokeVerifications(owner.id, resetPurposes.code, now);
          yield* deleteAllUserSessions(owner.id);
          if (step.session.user?.id === owner.id) {
            yield* endSession(step);
          }
          yield* clearLoginFailures([accountFailureKey(owner.id)]);
          if (account.emailNotifications && owner.email !== "") {
            step.mail({ kind: "password_reset_done", to: owner.email, userId: owner.id });
          }
          return { user: toUserRef((yield* findUserById(owner.id))!) };
        }),
      );
    }),
  };
}
