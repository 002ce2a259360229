/** Actors of the `login` machine. */
import { Effect } from "effect";
import { fromPromise } from "xstate";
import type { AuthenticateOutput, LoginForm } from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import type { Step } from "../runtime/step.ts";
import type { EmailAddressRow, UserRow } from "../storage/users.ts";
import {
  findEmailAddresses,
  findUserById,
  findUserByUsername,
  listEmailAddresses,
  toEmailAddressRef,
  toUserRef,
} from "../storage/users.ts";
import { isLoginThrottled, loginFailureBuckets, recordLoginFailure } from "./login-failures.ts";
import { loginPipelineActors } from "./login-pipeline.ts";

interface Candidate {
  readonly user: UserRow;
  readonly address: EmailAddressRow | null;
}

/** The account a login names: by address (verified first) or by username. */
const findCandidate = (form: LoginForm, account: ResolvedConfig["account"]) =>
  Effect.gen(function* () {
    if (form.email !== null) {
      const email = cleanEmail(form.email, account.emailMaxLength);
      if (email === null) {
        return null;
      }
      const rows = [...(yield* findEmailAddresses(email))].sort((a, b) => Number(b.verified) - Number(a.verified));
      const address = rows[0];
      if (address === undefined) {
        return null;
      }
      const user = yield* findUserById(address.user_id);
      return user === null ? null : ({ user, address } satisfies Candidate);
    }
    const user = form.username === null ? null : yield* findUserByUsername(form.username);
    return user === null ? null : ({ user, address: null } satisfies Candidate);
  });

/**
 * The `login_failed` key of this attempt. An address is keyed by its canonical form (the one the
 * lookup uses), so respelling it (case, fullwidth or U-label domain) does not open a fresh bucket
 * for the same account.
 */
function failureKey(form: LoginForm): string {
  const typed = (form.email ?? form.username ?? "").trim().toLowerCase();
  return form.email === null ? typed : (cleanEmail(form.email) ?? typed);
}

export function loginActors(step: Step, config: ResolvedConfig) {
  const account = config.account;
  return {
    ...loginPipelineActors(step, config),
    authenticatePassword: fromPromise<AuthenticateOutput, LoginForm>(async ({ input }) => {
      const mismatch = input.email !== null ? "email_password_mismatch" : "username_password_mismatch";
      const buckets = loginFailureBuckets(step.request.ip, failureKey(input));
      if (await isLoginThrottled(step, config, buckets)) {
        throw { code: "too_many_login_attempts", param: "password" };
      }
      const candidate = await step.run(findCandidate(input, account));
      const ok = await step.verifyPassword(candidate?.user.password ?? null, input.password.reveal());
      if (!ok || candidate === null) {
        await recordLoginFailure(step, buckets);
        throw { code: mismatch, param: "password" };
      }
      const addresses = await step.run(listEmailAddresses(candidate.user.id));
      return {
        user: toUserRef(candidate.user),
        emailAddress: candidate.address === null ? null : toEmailAddressRef(candidate.address),
        hasVerifiedEmail: addresses.some((a) => Number(a.verified) === 1),
      };
    }),
  };
}

