/**
 * Actors of the `login-by-code` machine: codes are 8 letters, `loginByCodeTimeout` (180 s),
 * `loginByCodeMaxAttempts` (3) tries counted on the code itself, single use; the right code
 * verifies the address it was mailed to.
 */
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
import type {
  ConfirmLoginCodeInput,
  ConfirmLoginCodeOutput,
  RequestLoginCodeInput,
  ResendLoginCodeInput,
  SendLoginCodeOutput,
} from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { fail } from "../errors.ts";
import { unknownAccountMail } from "../mails.ts";
import type { Step } from "../runtime/step.ts";
import { normalizeCode, Tokens } from "../services/tokens.ts";
import { findEmailAddressById, findEmailAddresses, findUserById, toEmailAddressRef, toUserRef } from "../storage/users.ts";
import { consumeVerification, findVerificationById, lockedVerification, recordFailedAttempt } from "../storage/verifications.ts";
import { verifyAddress } from "./email-verification.ts";
import { issueLoginCode, loginCodePurpose, loginPipelineActors } from "./login-pipeline.ts";

export function loginByCodeActors(step: Step, config: ResolvedConfig) {
  const account = config.account;
  return {
    ...loginPipelineActors(step, config),
    requestLoginCode: fromPromise<SendLoginCodeOutput, RequestLoginCodeInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const email = cleanEmail(input.email, account.emailMaxLength);
          if (email === null) {
            return yield* fail("invalid", "email");
          }
          const rows = [...(yield* findEmailAddresses(email))].sort((a, b) => Number(b.verified) - Number(a.verified));
          const row = rows[0];
          if (row === undefined) {
            if (account.emailUnknownAccounts) {
              step.mail(unknownAccountMail(config, email));
            }
            return { verificationId: null };
          }
          return yield* issueLoginCode(step, config, row);
        }),
      ),
    ),
    resendLoginCode: fromPromise<SendLoginCodeOutput, ResendLoginCodeInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const previous = yield* findVerificationById(input.verificationId);
          const row =
            previous?.email_address_id === null || previous === null
              ? null
              : yield* findEmailAddressById(previous.email_address_id);
          if (row === null) {
            return yield* fail("invalid", "code");
          }
          return yield* issueLoginCode(step, config, row);
        }),
      ),
    ),
    confirmLoginCode: fromPromise<ConfirmLoginCodeOutput, ConfirmLoginCodeInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const tokens = yield* Tokens;
          const now = yield* Clock.currentTimeMillis;
          const verification = input.verificationId === "" ? null : yield* lockedVerification(input.verificationId);
          if (verification === null || verification.purpose !== loginCodePurpose) {
            // An unknown address's flow: no code can ever match.
            return yield* fail("incorrect_code", "code");
          }
          if (verification.attempts >= account.loginByCodeMaxAttempts) {
            return yield* fail("too_many_attempts", "code");
          }
          if (verification.used_at !== null || verification.expires_at <= now) {
            return yield* fail("invalid", "code");
          }
          const given = tokens.digest(loginCodePurpose, normalizeCode(input.code.reveal()));
          if (!tokens.equal(verification.digest, given)) {
            yield* recordFailedAttempt(verification.id);
            return yield* fail("incorrect_code", "code");
          }
          if (!(yield* consumeVerification(verification.id, now))) {
            return yield* fail("invalid", "code");
          }
          const address =
            verification.email_address_id === null ? null : yield* findEmailAddressById(verification.email_address_id);
          const user = yield* findUserById(verification.user_id);
          if (address === null || user === null || address.email !== verification.email) {
            return yield* fail("invalid", "code");
          }
          if (Number(address.verified) === 1) {
            return { user: toUserRef(user), emailAddress: toEmailAddressRef(address), verifiedNow: false };
          }
          // The code proves the address: allauth marks it verified on the way in.
          const verified = yield* Effect.either(verifyAddress(step, address, config));
          return verified._tag === "Left"
            ? { user: toUserRef(user), emailAddress: toEmailAddressRef(address), verifiedNow: false }
            : { user: verified.right.user, emailAddress: verified.right.emailAddress, verifiedNow: true };
        }),
      ),
    ),
  };
}
