/**
 * Logout (allauth `flows/logout`, headless `DELETE auth/session`): `user_logged_out` is emitted
 * while the session still holds the user, then the session is ended. As in allauth headless,
 * an anonymous logout emits it too, with `user: null`.
 */
import { emit, setup } from "xstate";
import type { FlowInput } from "./contracts.ts";
import { notProvided } from "./not-provided.ts";
import type { AuthSignal } from "./signals.ts";

export interface LogoutContext {
  readonly sessionUser: FlowInput["sessionUser"];
}

export type LogoutEvent = { readonly type: "LOGOUT" };

export const logoutMachine = setup({
  types: {
    context: {} as LogoutContext,
    events: {} as LogoutEvent,
    input: {} as FlowInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    endSession: notProvided<void, void>("endSession"),
  },
}).createMachine({
  id: "logout",
  context: ({ input }) => ({ sessionUser: input.sessionUser }),
  initial: "idle",
  states: {
    idle: {
      on: {
        LOGOUT: {
          target: "endingSession",
          actions: emit(({ context }) => ({ type: "user_logged_out" as const, user: context.sessionUser })),
        },
      },
    },
    endingSession: {
      invoke: { src: "endSession", onDone: "done", onError: "failed" },
    },
    /** The session is gone. */
    done: { type: "final", tags: ["done"] },
    failed: { type: "final", tags: ["failed"] },
  },
});
