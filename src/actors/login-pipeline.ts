/**
 * The login pipeline's actors, shared by every flow that logs in: `sendVerificationEmail`
 * (link or code, under the `confirmEmail` cooldown) and `startSession` (rotates the session and
 * stamps `lastLogin`).
 */
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
import type {
  SendLoginCodeInput,
  SendLoginCodeOutput,
  SendVerificationEmailInput,
  SendVerificationEmailOutput,
  StartSessionInput,
  StartSessionOutput,
} from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { fail } from "../errors.ts";
import { keyOrCode } from "../mails.ts";
import type { Step } from "../runtime/step.ts";
import { rotateSession } from "../runtime/session.ts";
import { normalizeCode, Tokens } from "../services/tokens.ts";
import { hitRateLimit, isRateLimited } from "../storage/rate-limits.ts";
import type { EmailAddressRow } from "../storage/users.ts";
import { findUserById, listEmailAddresses, setLastLogin, setPassword, toEmailAddressRef, toUserRef } from "../storage/users.ts";
import { insertVerification, revokeVerifications } from "../storage/verifications.ts";

export const verificationPurposes = { link: "email_confirmation", code: "email_code" } as const;

/** What `queueVerification` verifies: a stored address, or (code-mode add) one not yet stored. */
export interface VerificationTarget {
  readonly userId: string;
  readonly email: string;
  readonly row: EmailAddressRow | null;
  /** The user's addresses, when the caller has just read them (else they are read when needed). */
  readonly addresses?: ReadonlyArray<EmailAddressRow>;
}

/** allauth's `confirm_email` limit for one address (its `key` rule), in ms. */
export function confirmEmailRule(config: ResolvedConfig) {
  const rule = config.account.rateLimits["confirmEmail"]?.find((r) => r.scope === "key");
  return rule === undefined ? null : { amount: rule.amount, periodInMs: rule.periodInSeconds * 1000 };
}

/**
 * The `confirm_email` limit's key: allauth's, the address alone; for a mail to a claim (an
 * unverified address of an account that has a verified one, SECURITY.md EM-09), the address within
 * that account, so that claiming someone's address never holds back the owner's own mail.
 */
const confirmEmailKey = (owner: string | null, email: string) =>
  owner === null ? `confirm_email:key:${email.toLowerCase()}` : `confirm_email:key:${owner}:${email.toLowerCase()}`;

/** The owner of a verification mail's `confirm_email` key: the account when the address is its claim. */
export const confirmEmailOwner = (userId: string, addresses?: ReadonlyArray<EmailAddressRow>) =>
  Effect.map(addresses === undefined ? listEmailAddresses(userId) : Effect.succeed(addresses), (rows) =>
    rows.some((row) => Number(row.verified) === 1) ? userId : null,
  );

/** Takes one verification mail from the `confirm_email` limit of `email` (see `confirmEmailKey`); false when spent. */
export const consumeConfirmEmail = (config: ResolvedConfig, owner: string | null, email: string, now: number) => {
  const rule = confirmEmailRule(config);
  return rule === null ? Effect.succeed(true) : hitRateLimit(confirmEmailKey(owner, email), rule.amount, rule.periodInMs, now);
};

/** Whether the `confirm_email` limit of `email` (see `confirmEmailKey`) is spent (nothing taken). */
export const isConfirmEmailSpent = (config: ResolvedConfig, owner: string | null, email: string, now: number) => {
  const rule = confirmEmailRule(config);
  return rule === null ? Effect.succeed(false) : isRateLimited(confirmEmailKey(owner, email), rule.amount, rule.periodInMs, now);
};

/**
 * Takes one code-mode verification mail from the `confirm_email` limit of `email`, or fails
 * `rate_limited` (allauth's `handle_verification_email_rate_limit` answers 429: the session holds
 * the only code, so a mail cannot be skipped silently). The step answering 429 keeps nothing.
 */
export const takeCodeMail = (config: ResolvedConfig, owner: string | null, email: string, now: number) =>
  Effect.flatMap(consumeConfirmEmail(config, owner, email, now), (ok) => (ok ? Effect.void : Effect.fail(fail("rate_limited"))));

/**
 * Issues a verification key (link mode, under the `confirmEmail` cooldown) or code (code mode,
 * replacing the user's previous code) for `target`, and queues its mail. Every code-mode mail
 * takes from `confirm_email` (`takeCodeMail`) unless the caller took it already (`limitTaken`).
 */
export const queueVerification = (
  step: Step,
  config: ResolvedConfig,
  target: VerificationTarget,
  options: { readonly limitTaken?: boolean; readonly signup?: boolean } = {},
) =>
  Effect.gen(function* () {
    const tokens = yield* Tokens;
    const now = yield* Clock.currentTimeMillis;
    const none: SendVerificationEmailOutput = { sent: false, confirmation: null, verificationId: null };
    const byCode = config.account.emailVerificationByCodeEnabled;
    const owner = yield* confirmEmailOwner(target.userId, target.addresses);
    // Link mode skips the mail while the cooldown runs (the earlier link still works).
    if (!byCode && !(yield* consumeConfirmEmail(config, owner, target.email, now))) {
      return none;
    }
    if (byCode && options.limitTaken !== true) {
      yield* takeCodeMail(config, owner, target.email, now);
    }
    const purpose = byCode ? verificationPurposes.code : verificationPurposes.link;
    const secret = byCode ? tokens.code() : tokens.key();
    const id = tokens.id();
    const ttlInSeconds = byCode
      ? config.account.emailVerificationByCodeTimeout
      : config.account.emailConfirmationExpireDays * 86400;
    if (byCode) {
      yield* revokeVerifications(target.userId, purpose, now);
    }
    yield* insertVerification({
      id,
      purpose,
      digest: tokens.digest(purpose, byCode ? normalizeCode(secret) : secret),
      user_id: target.userId,
      email_address_id: target.row?.id ?? null,
      email: target.email,
      created_at: now,
      expires_at: now + ttlInSeconds * 1000,
    });
    // Code mode: allauth's `signup` flag is "the user never logged in" (SIGNALS.md §3.8).
    const signup = byCode ? (yield* findUserById(target.userId))?.last_login === null : options.signup === true;
    step.mail({
      kind: "verification",
      to: target.email,
      userId: target.userId,
      ...keyOrCode(config, { byCode, secret, template: config.frontendUrls.accountConfirmEmail, origin: step.request.origin }),
      expiresAt: now + ttlInSeconds * 1000,
      signup,
    });
    return {
      sent: true,
      confirmation: {
        kind: byCode ? "code" : "link",
        emailAddress:
          target.row === null
            ? { id: "", userId: target.userId, email: target.email, verified: false, primary: false }
            : toEmailAddressRef(target.row),
        sentAt: now,
      },
      verificationId: byCode ? id : null,
      ...(byCode ? { signup } : {}),
    } satisfies SendVerificationEmailOutput;
  });

export const loginCodePurpose = "login_code";

/** Issues a login code for `row` (the user's previous codes die) and queues its mail. */
export const issueLoginCode = (step: Step, config: ResolvedConfig, row: EmailAddressRow) =>
  Effect.gen(function* () {
    const tokens = yield* Tokens;
    const now = yield* Clock.currentTimeMillis;
    const code = tokens.code();
    const id = tokens.id();
    yield* revokeVerifications(row.user_id, loginCodePurpose, now);
    yield* insertVerification({
      id,
      purpose: loginCodePurpose,
      digest: tokens.digest(loginCodePurpose, normalizeCode(code)),
      user_id: row.user_id,
      email_address_id: row.id,
      email: row.email,
      created_at: now,
      expires_at: now + config.account.loginByCodeTimeout * 1000,
    });
    step.mail({ kind: "login_code", to: row.email, userId: row.user_id, code, expiresAt: now + config.account.loginByCodeTimeout * 1000 });
    return { verificationId: id } satisfies SendLoginCodeOutput;
  });

export function loginPipelineActors(step: Step, config: ResolvedConfig) {
  return {
    sendLoginCode: fromPromise<SendLoginCodeOutput, SendLoginCodeInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const addresses = yield* listEmailAddresses(input.userId);
          const row =
            addresses.find((a) => a.id === input.emailAddressId) ??
            addresses.find((a) => Number(a.is_primary) === 1) ??
            addresses[0];
          if (row === undefined) {
            // Nowhere to send a code: the login stays parked (allauth cannot complete it either).
            return { verificationId: null };
          }
          return yield* issueLoginCode(step, config, row);
        }),
      ),
    ),
    sendVerificationEmail: fromPromise<SendVerificationEmailOutput, SendVerificationEmailInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const addresses = yield* listEmailAddresses(input.userId);
          const row =
            input.emailAddressId === null
              ? (addresses.find((a) => Number(a.is_primary) === 1 && Number(a.verified) === 0) ??
                addresses.find((a) => Number(a.verified) === 0))
              : addresses.find((a) => a.id === input.emailAddressId);
          const none: SendVerificationEmailOutput = { sent: false, confirmation: null, verificationId: null };
          if (row === undefined || Number(row.verified) === 1) {
            return none;
          }
          return yield* queueVerification(step, config, { userId: input.userId, email: row.email, row, addresses }, { signup: input.signup });
        }),
      ),
    ),
    startSession: fromPromise<StartSessionOutput, StartSessionInput>(async ({ input }) => {
      const checked = step.checkedPassword?.userId === input.userId ? step.checkedPassword : null;
      const started = await step.write(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis;
          // The update locks the user's row until commit, so the password read next is the one
          // a parallel change committed, and that change then sees this session to end it.
          const row = yield* setLastLogin(input.userId, now);
          if (checked !== null && row!.password !== checked.hash) {
            return null;
          }
          if (checked?.rehashed != null) {
            yield* setPassword(input.userId, checked.rehashed);
          }
          const user = toUserRef(row!);
          yield* rotateSession(step, user);
          return { user };
        }),
      );
      if (started === null) {
        // The password this login checked was changed meanwhile: it is no longer the password.
        // The step keeps nothing (its last-login stamp included), and the attempt counts as a
        // wrong guess, so it is not given back.
        step.hitsToGiveBack.length = 0;
        step.discardWrites = true;
        throw checked!.error;
      }
      return started;
    }),
  };
}
