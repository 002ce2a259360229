/** Actors of the `user-sessions` machine. */
import { Effect } from "effect";
import { fromPromise } from "xstate";
import type { EndSessionsInput } from "../../machines/contracts.ts";
import { endSession } from "../runtime/session.ts";
import type { Step } from "../runtime/step.ts";
import { deleteUserSessions } from "../storage/sessions.ts";

export function userSessionsActors(step: Step) {
  return {
    endSessions: fromPromise<void, EndSessionsInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const current = step.session.publicId;
          yield* deleteUserSessions(input.userId, input.sessionIds.filter((id) => id !== current));
          if (input.includesCurrent) {
            yield* endSession(step);
          }
        }),
      ),
    ),
  };
}
