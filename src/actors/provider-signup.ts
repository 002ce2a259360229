/**
 * Actors of the `provider-signup` machine (allauth `socialaccount/forms.py:SignupForm`, a
 * signup form without passwords): the form is checked as a local signup's fields are, with the
 * provider's own text for a taken address; the user is created as an automatic social signup's.
 */
import { Effect } from "effect";
import { fromPromise } from "xstate";
import type { FlowError } from "../../machines/errors.ts";
import { joinErrors } from "../../machines/errors.ts";
import type {
  CreateSocialUserInput,
  CreateSocialUserOutput,
  ProviderSignupForm,
  ValidateProviderSignupOutput,
} from "../../machines/social-contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { failWith } from "../errors.ts";
import type { Step } from "../runtime/step.ts";
import type { ProviderConfig, SocialProfile } from "../social/types.ts";
import { isAddressHeld } from "./email-claims.ts";
import { loginPipelineActors } from "./login-pipeline.ts";
import { createSocialUser, freeUsername } from "./social-account.ts";
import { refusesTakenEmail, signupUsername } from "./signup.ts";

export function providerSignupActors(step: Step, config: ResolvedConfig, provider: ProviderConfig, profile: SocialProfile) {
  const account = config.account;
  return {
    ...loginPipelineActors(step, config),
    validateProviderSignup: fromPromise<ValidateProviderSignupOutput, ProviderSignupForm>(({ input }) =>
      step.run(
        Effect.gen(function* () {
          const errors: Array<FlowError> = [];
          let email: string | null = null;
          let hidden = false;
          if (input.email !== null && input.email.trim() !== "") {
            email = cleanEmail(input.email, account.emailMaxLength);
            if (email === null) {
              errors.push({ code: "invalid", param: "email" });
            } else if (account.uniqueEmail && (yield* isAddressHeld(email))) {
              if (refusesTakenEmail(account)) {
                errors.push({ code: "social_email_taken", param: "email", details: { value: provider.name } });
              } else {
                hidden = account.preventEnumeration !== "strict";
              }
            }
          } else if (config.socialaccount.emailRequired) {
            errors.push({ code: "required", param: "email" });
          }
          const typed = yield* signupUsername(config, input.username);
          const username = typeof typed === "string" ? typed : null;
          if (typed !== null && typeof typed !== "string") {
            errors.push(typed);
          }
          const refused = joinErrors(errors);
          return refused === null ? { email, username, hidden } : yield* failWith(refused);
        }),
      ),
    ),
    createSocialUser: fromPromise<CreateSocialUserOutput, CreateSocialUserInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const needsUsername = input.username === null && account.loginMethods.includes("username");
          const username = needsUsername ? yield* freeUsername(config, profile.username, input.email) : input.username;
          return yield* createSocialUser(config, profile, { ...input, username });
        }),
      ),
    ),
    sendAccountExistsMail: fromPromise<void, { readonly email: string }>(async ({ input }) => {
      step.mail({ kind: "account_exists", to: input.email, userId: null });
    }),
  };
}
