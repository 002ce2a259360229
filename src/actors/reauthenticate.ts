/**
 * Actors of the `reauthenticate` machine: the password is checked under the same `login_failed`
 * limiter as a login, and the session gains a fresh authentication record.
 */
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
import type { ReauthenticateInput } from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { saveSessionData } from "../runtime/session.ts";
import type { Step } from "../runtime/step.ts";
import { findUserById } from "../storage/users.ts";
import { checkAccountPassword } from "./login-failures.ts";

export function reauthenticateActors(step: Step, config: ResolvedConfig) {
  return {
    reauthenticate: fromPromise<void, ReauthenticateInput>(async ({ input }) => {
      const user = await step.run(findUserById(input.userId));
      if (user === null) {
        throw { code: "unexpected" };
      }
      const checked = await checkAccountPassword(step, config, user, input.password.reveal());
      if (checked !== "ok") {
        throw checked === "throttled"
          ? { code: "too_many_login_attempts", param: "password" }
          : { code: "incorrect_password", param: "password" };
      }
      await step.write(
        Effect.gen(function* () {
          const at = yield* Clock.currentTimeMillis;
          const methods = [...(step.session.data.methods ?? []), { method: "password" as const, at, reauthenticated: true }];
          yield* saveSessionData(step, { ...step.session.data, methods });
        }),
      );
    }),
  };
}
