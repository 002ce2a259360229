/** Actors of the `signup` machine. */
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
import type {
  CreateUserInput,
  CreateUserOutput,
  SendAccountExistsMailInput,
  SignupForm,
  ValidateSignupOutput,
} from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { passwordErrors } from "../domain/password.ts";
import { cleanUsername } from "../domain/username.ts";
import { joinErrors } from "../../machines/errors.ts";
import type { FlowError } from "../../machines/errors.ts";
import { fail, failWith } from "../errors.ts";
import type { Step } from "../runtime/step.ts";
import { unusablePasswordPrefix } from "../services/password-hasher.ts";
import { Tokens } from "../services/tokens.ts";
import { lockKey } from "../storage/locks.ts";
import {
  findUserByUsername,
  insertEmailAddress,
  insertUser,
  toEmailAddressRef,
  toUserRef,
} from "../storage/users.ts";
import { isAddressHeld } from "./email-claims.ts";
import { loginPipelineActors } from "./login-pipeline.ts";

/** Is an address taken by someone else refused as `email_taken` (not hidden, not allowed)? */
export function refusesTakenEmail(account: ResolvedConfig["account"]): boolean {
  return (
    account.preventEnumeration === false || (account.preventEnumeration === true && account.emailVerification !== "mandatory")
  );
}

/**
 * allauth's signup input, past the JSON types: every error of each field (required, Django's
 * email and username validators, `email_taken` where enumeration prevention does not hide it,
 * `username_taken`, each failing password rule), and the cleaned values.
 */
export const cleanSignup = (
  form: { readonly email: string | null; readonly username: string | null; readonly password: string | null },
  config: ResolvedConfig,
) =>
  Effect.gen(function* () {
    const account = config.account;
    const errors: Array<FlowError> = [];
    let email: string | null = null;
    let emailTaken = false;
    if (form.email !== null) {
      email = cleanEmail(form.email, account.emailMaxLength);
      if (email === null) {
        errors.push({ code: "invalid", param: "email" });
      } else {
        emailTaken = yield* isAddressHeld(email);
        if (emailTaken && refusesTakenEmail(account)) {
          errors.push({ code: "email_taken", param: "email" });
        }
      }
    } else if (account.signupEmail === "required") {
      errors.push({ code: "required", param: "email" });
    }
    const typedUsername = yield* signupUsername(config, form.username);
    const username = typeof typedUsername === "string" || typedUsername === null ? typedUsername : null;
    if (typedUsername !== null && typeof typedUsername !== "string") {
      errors.push(typedUsername);
    }
    if (form.password !== null) {
      const policy = { minLength: account.passwordMinLength, maxLength: account.passwordMaxLength };
      // allauth's headless signup never compares (it has no user yet); SECURITY.md CR-07 asks for
      // the context words at signup too, so a password equal to the username or the address's
      // local part is still refused here (a deliberate difference, in the README).
      errors.push(...passwordErrors(form.password, policy, { username: username ?? form.username, email: email ?? form.email }));
    }
    return { errors, valid: { email, username, emailTaken } satisfies ValidateSignupOutput };
  });

/**
 * A signup form's `username` (local or provider signup): cleaned and free, or its error; null
 * when none was typed and none is required.
 */
export const signupUsername = (config: ResolvedConfig, typed: string | null) =>
  Effect.gen(function* () {
    const account = config.account;
    if (typed === null || typed === "") {
      return account.signupUsername === "required" ? ({ code: "required", param: "username" } satisfies FlowError) : null;
    }
    const cleaned = cleanUsername(typed, {
      minLength: account.usernameMinLength,
      maxLength: account.usernameMaxLength,
      blacklist: account.usernameBlacklist,
    });
    if (typeof cleaned !== "string") {
      return cleaned;
    }
    return (yield* findUserByUsername(cleaned)) === null ? cleaned : ({ code: "username_taken", param: "username" } satisfies FlowError);
  });

/**
 * `checked`: the form as the endpoint already cleaned it (`cleanSignup`, without errors), so the
 * machine's validation does not look the address and username up a second time.
 */
export function signupActors(step: Step, config: ResolvedConfig, checked?: ValidateSignupOutput) {
  const account = config.account;
  return {
    ...loginPipelineActors(step, config),
    validateSignup: fromPromise<ValidateSignupOutput, SignupForm>(({ input }) =>
      checked !== undefined ? Promise.resolve(checked) : step.run(
        Effect.gen(function* () {
          const form = yield* cleanSignup(
            { email: input.email, username: input.username, password: input.password?.reveal() ?? null },
            config,
          );
          const refused = joinErrors(form.errors);
          return refused === null ? form.valid : yield* failWith(refused);
        }),
      ),
    ),
    createUser: fromPromise<CreateUserOutput, CreateUserInput>(async ({ input }) => {
      const hashed = input.password === null ? null : await step.hash(input.password.reveal());
      return step.write(
        Effect.gen(function* () {
          const tokens = yield* Tokens;
          // No password asked for: an unusable one, as Django's `set_unusable_password`.
          const password = hashed ?? `${unusablePasswordPrefix}${tokens.key()}`;
          const now = yield* Clock.currentTimeMillis;
          // Checked again inside the transaction: a concurrent signup may have won the race.
          if (input.email !== null) {
            yield* lockKey(`email:${input.email}`);
          }
          if (input.username !== null) {
            yield* lockKey(`username:${input.username.toLowerCase()}`);
          }
          if (input.email !== null && account.preventEnumeration !== "strict" && (yield* isAddressHeld(input.email))) {
            return yield* fail("email_taken", "email");
          }
          if (input.username !== null && (yield* findUserByUsername(input.username)) !== null) {
            return yield* fail("username_taken", "username");
          }
          const id = tokens.id();
          const isActive = config.adapter.isNewUserActive({ email: input.email, username: input.username });
          const inserted = yield* insertUser({ id, username: input.username, email: input.email, password, isActive, dateJoined: now });
          let emailAddress = null;
          if (input.email !== null) {
            const row = { id: tokens.id(), user_id: id, email: input.email, verified: 0, is_primary: 1 };
            yield* insertEmailAddress(row);
            emailAddress = toEmailAddressRef(row);
          }
          return { user: toUserRef(inserted), emailAddress };
        }),
      );
    }),
    sendAccountExistsMail: fromPromise<void, SendAccountExistsMailInput>(async ({ input }) => {
      // Costs one hash, as a real signup does, then mails the owner instead of creating anyone.
      // (After a lost race inside createUser the hash was already paid, and the transaction is open.)
      if (!step.inTransaction && input.password !== null) {
        await step.hash(input.password.reveal());
      }
      step.mail({ kind: "account_exists", to: input.email, userId: null });
    }),
  };
}
