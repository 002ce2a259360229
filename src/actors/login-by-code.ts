/**
 * Actors of the `login-by-code` machine: codes are 8 letters, `loginByCodeTimeout` (180 s),
 * checked and re-sent by the shared code-verification process (`loginByCodeMaxAttempts`, 3,
 * counted in the flow's row), single use; the right code verifies the address it was mailed to.
 */
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
import type {
  ConfirmLoginCodeInput,
  ConfirmLoginCodeOutput,
  RequestLoginCodeInput,
  SendLoginCodeOutput,
} from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { fail } from "../errors.ts";
import type { Step } from "../runtime/step.ts";
import { findEmailAddressById, findHeldEmailAddresses, findUserById, toEmailAddressRef, toUserRef } from "../storage/users.ts";
import { consumeVerification, lockedVerification } from "../storage/verifications.ts";
import type { CodeProcess, Reissue } from "./code-verification.ts";
import { codeVerificationActors } from "./code-verification.ts";
import { takeActionLimit } from "./limits.ts";
import { verifyAddress } from "./email-verification.ts";
import { issueLoginCode, loginCodePurpose, loginPipelineActors } from "./login-pipeline.ts";

/** Login by code's resend: a new code to the address the last one went to (none for a fake flow). */
export const reissueLoginCode =
  (step: Step, config: ResolvedConfig): Reissue =>
  (previous) =>
    Effect.gen(function* () {
      const row =
        previous === null || previous.email_address_id === null ? null : yield* findEmailAddressById(previous.email_address_id);
      if (row === null) {
        return { verificationId: null, confirmation: null, signup: false };
      }
      const issued = yield* issueLoginCode(step, config, row);
      return { verificationId: issued.verificationId, confirmation: null, signup: false };
    });

export function loginByCodeActors(step: Step, config: ResolvedConfig, process: CodeProcess | null = null) {
  const account = config.account;
  return {
    ...loginPipelineActors(step, config),
    ...codeVerificationActors(step, process, reissueLoginCode(step, config)),
    requestLoginCode: fromPromise<SendLoginCodeOutput, RequestLoginCodeInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const email = cleanEmail(input.email, account.emailMaxLength);
          if (email === null) {
            return yield* fail("invalid", "email");
          }
          // A claim (SECURITY.md EM-09) is answered as an unknown address.
          const rows = [...(yield* findHeldEmailAddresses(email))].sort((a, b) => Number(b.verified) - Number(a.verified));
          const row = rows[0];
          const owner = row === undefined ? null : yield* findUserById(row.user_id);
          if ((owner === null || Number(owner.is_active) !== 1) && account.preventEnumeration === false) {
            return yield* fail("unknown_email", "email");
          }
          // allauth checks its limit after the address (and answers it as a form error).
          if (!(yield* takeActionLimit(config, "requestLoginCode", { ip: step.request.ip, key: email }))) {
            return yield* fail("too_many_login_attempts", "email");
          }
          if (row === undefined) {
            if (account.emailUnknownAccounts) {
              step.mail({ kind: "unknown_account", to: email, userId: null });
            }
            return { verificationId: null };
          }
          return yield* issueLoginCode(step, config, row);
        }),
      ),
    ),
    confirmLoginCode: fromPromise<ConfirmLoginCodeOutput, ConfirmLoginCodeInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis;
          const verification = yield* lockedVerification(input.verificationId);
          // Single use: of two right codes at once, only one logs in.
          if (verification === null || !(yield* consumeVerification(verification.id, now))) {
            return yield* fail("flow_not_pending");
          }
          const address =
            verification.email_address_id === null ? null : yield* findEmailAddressById(verification.email_address_id);
          const user = yield* findUserById(verification.user_id);
          if (address === null || user === null || address.email !== verification.email) {
            return yield* fail("flow_not_pending");
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
