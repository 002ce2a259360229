/**
 * User sessions (allauth `usersessions`): end selected sessions of the logged-in user. Ending
 * other sessions emits nothing (their rows are deleted); when the current session is among
 * them it is a normal logout: `user_logged_out` while the session still holds the user.
 */
import { assign, emit, setup } from "xstate";
import type { EndSessionsInput, FlowInput } from "./contracts.ts";
import { notProvided } from "./not-provided.ts";
import type { AuthSignal, UserRef } from "./signals.ts";

export interface UserSessionsInput extends FlowInput {
  /** The public id of the session making the request. */
  readonly currentSessionId: number | null;
}

export interface UserSessionsContext {
  readonly sessionUser: UserRef | null;
  readonly currentSessionId: number | null;
  readonly sessionIds: ReadonlyArray<number>;
}

export type UserSessionsEvent = { readonly type: "END"; readonly sessionIds: ReadonlyArray<number> };

export const userSessionsMachine = setup({
  types: {
    context: {} as UserSessionsContext,
    events: {} as UserSessionsEvent,
    input: {} as UserSessionsInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    endSessions: notProvided<EndSessionsInput, void>("endSessions"),
  },
  actions: {
    storeSessionIds: assign({ sessionIds: ({ event }) => event.sessionIds }),
  },
  guards: {
    isAnonymous: ({ context }) => context.sessionUser === null,
    includesCurrent: ({ context, event }) =>
      context.currentSessionId !== null && event.sessionIds.includes(context.currentSessionId),
  },
}).createMachine({
  id: "user-sessions",
  context: ({ input }) => ({ sessionUser: input.sessionUser, currentSessionId: input.currentSessionId, sessionIds: [] }),
  initial: "idle",
  states: {
    idle: {
      on: {
        END: [
          { guard: "isAnonymous", target: "unauthenticated" },
          {
            guard: "includesCurrent",
            target: "endingWithCurrent",
            actions: [
              "storeSessionIds",
              emit(({ context }) => ({ type: "user_logged_out" as const, user: context.sessionUser })),
            ],
          },
          { target: "ending", actions: "storeSessionIds" },
        ],
      },
    },
    ending: {
      invoke: {
        src: "endSessions",
        input: ({ context }) => ({ userId: context.sessionUser!.id, sessionIds: context.sessionIds, includesCurrent: false }),
        onDone: "done",
        onError: "failed",
      },
    },
    endingWithCurrent: {
      invoke: {
        src: "endSessions",
        input: ({ context }) => ({ userId: context.sessionUser!.id, sessionIds: context.sessionIds, includesCurrent: true }),
        onDone: "loggedOut",
        onError: "failed",
      },
    },
    /** Other sessions ended; this one goes on. */
    done: { type: "final", tags: ["done"] },
    /** The current session was among them: logged out. */
    loggedOut: { type: "final", tags: ["done"] },
    unauthenticated: { type: "final", tags: ["unauthenticated"] },
    failed: { type: "final", tags: ["failed"] },
  },
});
