/**
 * Disconnecting a social account (allauth `socialaccount/internal/flows/connect.py:disconnect`
 * and `validate_disconnect`): the account must be the user's (`account_not_found`); only the
 * last one is guarded — `no_password` before `no_verified_email`; with
 * `reauthenticationRequired` an old session reauthenticates first; `social_account_removed`
 * fires once the row is gone.
 */
import { assign, emit, setup } from "xstate";
import type { FlowInput } from "./contracts.ts";
import { toFlowError } from "./errors.ts";
import type { FlowError } from "./errors.ts";
import { notProvided } from "./not-provided.ts";
import type { DisconnectInput, DisconnectOutput } from "./social-contracts.ts";
import type { AuthSignal, SocialAccountRef } from "./signals.ts";

export interface SocialDisconnectInput extends FlowInput {
  readonly needsReauthentication: boolean;
}

export interface SocialDisconnectContext {
  readonly sessionUserId: string | null;
  readonly needsReauthentication: boolean;
  readonly target: DisconnectInput | null;
  readonly removed: SocialAccountRef | null;
  readonly error: FlowError | null;
}

export type SocialDisconnectEvent = { readonly type: "DISCONNECT"; readonly provider: string; readonly uid: string };

export const socialDisconnectMachine = setup({
  types: {
    context: {} as SocialDisconnectContext,
    events: {} as SocialDisconnectEvent,
    input: {} as SocialDisconnectInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    checkDisconnect: notProvided<DisconnectInput, void>("checkDisconnect"),
    removeSocialAccount: notProvided<DisconnectInput, DisconnectOutput>("removeSocialAccount"),
  },
  guards: {
    isAnonymous: ({ context }) => context.sessionUserId === null,
    mustReauthenticate: ({ context }) => context.needsReauthentication,
  },
  actions: {
    storeFailure: assign((_, params: { readonly error: unknown }) => ({ error: toFlowError(params.error) })),
  },
}).createMachine({
  id: "social-disconnect",
  context: ({ input }) => ({
    sessionUserId: input.sessionUser?.id ?? null,
    needsReauthentication: input.needsReauthentication,
    target: null,
    removed: null,
    error: null,
  }),
  initial: "idle",
  states: {
    idle: {
      on: {
        DISCONNECT: [
          { guard: "isAnonymous", target: "unauthenticated" },
          {
            target: "checking",
            actions: assign({
              target: ({ context, event }) => ({ userId: context.sessionUserId!, provider: event.provider, uid: event.uid }),
            }),
          },
        ],
      },
    },
    // allauth validates the form before the view asks for reauthentication.
    checking: {
      invoke: {
        src: "checkDisconnect",
        input: ({ context }) => context.target!,
        onDone: [{ guard: "mustReauthenticate", target: "reauthenticate" }, { target: "removing" }],
        onError: { target: "rejected", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    removing: {
      invoke: {
        src: "removeSocialAccount",
        input: ({ context }) => context.target!,
        onDone: {
          target: "removed",
          actions: [
            assign({ removed: ({ event }) => event.output.account }),
            emit(({ event }) => ({ type: "social_account_removed" as const, socialAccount: event.output.account })),
          ],
        },
        onError: { target: "rejected", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    removed: { type: "final", tags: ["done"] },
    reauthenticate: { type: "final", tags: ["reauthenticate"] },
    unauthenticated: { type: "final", tags: ["unauthenticated"] },
    rejected: { type: "final", tags: ["rejected"] },
  },
});
