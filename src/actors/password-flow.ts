/**
 * `savePassword`, shared by `password-change` and `password-set`: check the current password
 * (change only), check the new one against the policy, hash outside the transaction, then save it
 * if the stored password is still the one checked (CC-02), end the user's other sessions, give this
 * one a new token, and queue the notification mail when enabled.
 */
import { Effect } from "effect";
import { fromPromise } from "xstate";
import type { ChangePasswordInput, ChangePasswordOutput } from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { joinErrors } from "../../machines/errors.ts";
import type { FlowError } from "../../machines/errors.ts";
import { passwordErrors } from "../domain/password.ts";
import { cycleSessionToken, endSession } from "../runtime/session.ts";
import { checkAccountPassword } from "./login-failures.ts";
import type { Step } from "../runtime/step.ts";
import { deleteOtherSessions } from "../storage/sessions.ts";
import { findUserById, replacePassword, toUserRef } from "../storage/users.ts";

export function passwordFlowActors(step: Step, config: ResolvedConfig, kind: "password_changed" | "password_set") {
  return {
    savePassword: fromPromise<ChangePasswordOutput, ChangePasswordInput>(async ({ input }) => {
      const row = await step.run(findUserById(input.userId));
      if (row === null) {
        throw { code: "unexpected" };
      }
      // allauth's ChangePasswordInput: both fields are cleaned, and every error reported.
      const errors: Array<FlowError> = [];
      if (input.currentPassword === null) {
        if (kind === "password_changed") {
          errors.push({ code: "required", param: "current_password" });
        }
      } else if (kind === "password_set") {
        // No usable password: whatever is typed as the current one cannot match it.
        errors.push({ code: "enter_current_password", param: "current_password" });
      } else {
        const checked = await checkAccountPassword(step, config, row, input.currentPassword.reveal());
        if (checked !== "ok") {
          errors.push({ code: checked === "throttled" ? "too_many_login_attempts" : "enter_current_password", param: "current_password" });
        }
      }
      if (input.newPassword === null) {
        errors.push({ code: "required", param: "new_password" });
      } else {
        const policy = { minLength: config.account.passwordMinLength, maxLength: config.account.passwordMaxLength };
        errors.push(...passwordErrors(input.newPassword.reveal(), policy, { username: row.username, email: row.email }, "new_password"));
      }
      const refused = joinErrors(errors);
      if (refused !== null || input.newPassword === null) {
        throw refused;
      }
      const hash = await step.hash(input.newPassword.reveal());
      const saved = await step.write(
        Effect.gen(function* () {
          // The password checked above (or the unusable one) must still be the stored one: a
          // parallel change that committed first makes this one's current password wrong.
          if (!(yield* replacePassword(row.id, row.password, hash))) {
            return null;
          }
          yield* deleteOtherSessions(row.id, step.session.id);
          if (config.account.emailNotifications && row.email !== "") {
            step.mail({ kind, to: row.email, userId: row.id });
          }
          const user = toUserRef((yield* findUserById(row.id))!);
          if (step.session.user?.id === user.id) {
            // allauth's `update_session_auth_hash`: this session stays, under a new token.
            yield* cycleSessionToken(step);
            step.session = { ...step.session, user };
          }
          return { user };
        }),
      );
      if (saved === null) {
        throw { code: "enter_current_password", param: "current_password" };
      }
      return saved;
    }),
    endSession: fromPromise<void, void>(() => step.write(endSession(step))),
  };
}
