/**
 * The login pipeline's actors, shared by every flow that logs in: `sendVerificationEmail`
 * (link or code, under the `confirmEmail` cooldown) and `startSession` (rotates the session and
 * stamps `lastLogin`).
 */
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
import type {
  SendVerificationEmailInput,
  SendVerificationEmailOutput,
  StartSessionInput,
  StartSessionOutput,
} from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { emailConfirmationCodeMail, emailConfirmationMail } from "../mails.ts";
import type { Step } from "../runtime/step.ts";
import { rotateSession } from "../runtime/session.ts";
import { normalizeCode, Tokens } from "../services/tokens.ts";
import { hitRateLimit } from "../storage/rate-limits.ts";
import { findUserById, listEmailAddresses, setLastLogin, toEmailAddressRef, toUserRef } from "../storage/users.ts";
import { insertVerification, revokeVerifications } from "../storage/verifications.ts";

export const verificationPurposes = { link: "email_confirmation", code: "email_code" } as const;

export function loginPipelineActors(step: Step, config: ResolvedConfig) {
  return {
    sendVerificationEmail: fromPromise<SendVerificationEmailOutput, SendVerificationEmailInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const tokens = yield* Tokens;
          const now = yield* Clock.currentTimeMillis;
          const addresses = yield* listEmailAddresses(input.userId);
          const row =
            input.emailAddressId === null
              ? (addresses.find((a) => Number(a.is_primary) === 1 && Number(a.verified) === 0) ??
                addresses.find((a) => Number(a.verified) === 0))
              : addresses.find((a) => a.id === input.emailAddressId);
          const none = { sent: false, confirmation: null, verificationId: null } as const;
          if (row === undefined || Number(row.verified) === 1) {
            return none;
          }
          const byCode = config.account.emailVerificationByCodeEnabled;
          const cooldown = config.account.rateLimits["confirmEmail"]?.find((r) => r.scope === "key");
          if (!byCode && cooldown !== undefined) {
            const allowed = yield* hitRateLimit(
              `confirm_email:key:${row.email}`,
              cooldown.amount,
              cooldown.periodInSeconds * 1000,
              now,
            );
            if (!allowed) {
              return none;
            }
          }
          const purpose = byCode ? verificationPurposes.code : verificationPurposes.link;
          const secret = byCode ? tokens.code() : tokens.key();
          const id = tokens.id();
          const ttlInSeconds = byCode
            ? config.account.emailVerificationByCodeTimeout
            : config.account.emailConfirmationExpireDays * 86400;
          if (byCode) {
            yield* revokeVerifications(input.userId, purpose, now);
          }
          yield* insertVerification({
            id,
            purpose,
            digest: tokens.digest(purpose, byCode ? normalizeCode(secret) : secret),
            user_id: input.userId,
            email_address_id: row.id,
            email: row.email,
            created_at: now,
            expires_at: now + ttlInSeconds * 1000,
          });
          step.mail(
            byCode
              ? emailConfirmationCodeMail(config, row.email, secret)
              : emailConfirmationMail(config, row.email, secret),
          );
          return {
            sent: true,
            confirmation: { kind: byCode ? "code" : "link", emailAddress: toEmailAddressRef(row), sentAt: now },
            verificationId: byCode ? id : null,
          } as const;
        }),
      ),
    ),
    startSession: fromPromise<StartSessionOutput, StartSessionInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis;
          yield* setLastLogin(input.userId, now);
          const row = yield* findUserById(input.userId);
          const user = toUserRef(row!);
          const { login } = input;
          yield* rotateSession(step, user, {
            method: login.method,
            at: now,
            ...(login.email === undefined ? {} : { email: login.email }),
            ...(login.username === undefined ? {} : { username: login.username }),
          });
          return { user };
        }),
      ),
    ),
  };
}
