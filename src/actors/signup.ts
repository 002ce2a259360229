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
import { checkPassword } from "../domain/password.ts";
import { cleanUsername } from "../domain/username.ts";
import { fail, failWith } from "../errors.ts";
import { accountAlreadyExistsMail } from "../mails.ts";
import type { Step } from "../runtime/step.ts";
import { unusablePasswordPrefix } from "../services/password-hasher.ts";
import { Tokens } from "../services/tokens.ts";
import { lockKey } from "../storage/locks.ts";
import {
  findEmailAddresses,
  findUserById,
  findUserByUsername,
  insertEmailAddress,
  insertUser,
  toEmailAddressRef,
  toUserRef,
} from "../storage/users.ts";
import { loginPipelineActors } from "./login-pipeline.ts";

/** Is `email` in use by any account (verified or not)? */
const isEmailInUse = (email: string) => Effect.map(findEmailAddresses(email), (rows) => rows.length > 0);

export function signupActors(step: Step, config: ResolvedConfig) {
  const account = config.account;
  return {
    ...loginPipelineActors(step, config),
    validateSignup: fromPromise<ValidateSignupOutput, SignupForm>(({ input }) =>
      step.run(
        Effect.gen(function* () {
          let email: string | null = null;
          if (input.email !== null) {
            email = cleanEmail(input.email, account.emailMaxLength);
            if (email === null) {
              return yield* fail("invalid", "email");
            }
          } else if (account.signupEmail === "required") {
            return yield* fail("required", "email");
          }
          let username: string | null = null;
          if (input.username !== null) {
            const cleaned = cleanUsername(input.username, {
              minLength: account.usernameMinLength,
              maxLength: account.usernameMaxLength,
              blacklist: account.usernameBlacklist,
            });
            if (typeof cleaned !== "string") {
              return yield* failWith(cleaned);
            }
            if ((yield* findUserByUsername(cleaned)) !== null) {
              return yield* fail("username_taken", "username");
            }
            username = cleaned;
          } else if (account.signupUsername === "required") {
            return yield* fail("required", "username");
          }
          if (input.password !== null) {
            const policy = { minLength: account.passwordMinLength, maxLength: account.passwordMaxLength };
            const weak = checkPassword(input.password.reveal(), policy, { username, email });
            if (weak !== null) {
              return yield* failWith(weak);
            }
          }
          const emailTaken = email === null ? false : yield* isEmailInUse(email);
          return { email, username, emailTaken };
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
          if (input.email !== null && account.preventEnumeration !== "strict" && (yield* isEmailInUse(input.email))) {
            return yield* fail("email_taken", "email");
          }
          if (input.username !== null && (yield* findUserByUsername(input.username)) !== null) {
            return yield* fail("username_taken", "username");
          }
          const id = tokens.id();
          const isActive = config.adapter.isNewUserActive({ email: input.email, username: input.username });
          yield* insertUser({ id, username: input.username, email: input.email, password, isActive, dateJoined: now });
          let emailAddress = null;
          if (input.email !== null) {
            const row = { id: tokens.id(), user_id: id, email: input.email, verified: 0, is_primary: 1 };
            yield* insertEmailAddress(row);
            emailAddress = toEmailAddressRef(row);
          }
          const user = toUserRef((yield* findUserById(id))!);
          return { user, emailAddress };
        }),
      );
    }),
    sendAccountExistsMail: fromPromise<void, SendAccountExistsMailInput>(async ({ input }) => {
      // Costs one hash, as a real signup does, then mails the owner instead of creating anyone.
      // (After a lost race inside createUser the hash was already paid, and the transaction is open.)
      if (!step.inTransaction && input.password !== null) {
        await step.hash(input.password.reveal());
      }
      step.mail(accountAlreadyExistsMail(config, input.email));
    }),
  };
}
