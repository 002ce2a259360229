/**
 * `savePassword`, shared by `password-change` and `password-set`: check the current password
 * (change only), check the new one against the policy, hash outside the transaction, then save it,
 * end the user's other sessions, and queue the notification mail when enabled.
 */
import { Effect } from "effect";
import { fromPromise } from "xstate";
import type { ChangePasswordInput, ChangePasswordOutput } from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { checkPassword } from "../domain/password.ts";
import { notificationMail } from "../mails.ts";
import { endSession } from "../runtime/session.ts";
import { checkAccountPassword } from "./login-failures.ts";
import type { Step } from "../runtime/step.ts";
import { deleteOtherSessions } from "../storage/sessions.ts";
import { findUserById, setPassword, toUserRef } from "../storage/users.ts";

export function passwordFlowActors(step: Step, config: ResolvedConfig, kind: "password_changed" | "password_set") {
  return {
    savePassword: fromPromise<ChangePasswordOutput, ChangePasswordInput>(async ({ input }) => {
      const row = await step.run(findUserById(input.userId));
      if (row === null) {
        throw { code: "unexpected" };
      }
      if (kind === "password_changed") {
        if (input.currentPassword === null) {
          throw { code: "required", param: "current_password" };
        }
        const checked = await checkAccountPassword(step, config, row, input.currentPassword.reveal());
        if (checked !== "ok") {
          throw checked === "throttled"
            ? { code: "too_many_login_attempts", param: "current_password" }
            : { code: "incorrect_password", param: "current_password" };
        }
      }
      const weak = checkPassword(
        input.newPassword.reveal(),
        { minLength: config.account.passwordMinLength, maxLength: config.account.passwordMaxLength },
        { username: row.username, email: row.email },
      );
      if (weak !== null) {
        throw { ...weak, param: "new_password" };
      }
      const hash = await step.hash(input.newPassword.reveal());
      return step.write(
        Effect.gen(function* () {
          yield* setPassword(row.id, hash);
          yield* deleteOtherSessions(row.id, step.session.id);
          if (config.account.emailNotifications && row.email !== "") {
            step.mail(notificationMail(config, row.email, kind));
          }
          const user = toUserRef((yield* findUserById(row.id))!);
          if (step.session.user?.id === user.id) {
            step.session = { ...step.session, user };
          }
          return { user };
        }),
      );
    }),
    endSession: fromPromise<void, void>(() => step.write(endSession(step))),
  };
}
