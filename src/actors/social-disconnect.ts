/**
 * Actors of the `social-disconnect` machine (allauth `flows/connect.py:validate_disconnect` and
 * `disconnect`): only the user's own account, and the last one only while the user keeps a way
 * in — a usable password first, then (mandatory verification) a verified address.
 */
import { Effect } from "effect";
import { fromPromise } from "xstate";
import type { DisconnectInput, DisconnectOutput } from "../../machines/social-contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { fail } from "../errors.ts";
import type { Step } from "../runtime/step.ts";
import { lockKey } from "../storage/locks.ts";
import { deleteSocialAccount, listSocialAccounts, toSocialAccountRef } from "../storage/social.ts";
import { findUserById, toUserRef } from "../storage/users.ts";
import { hasVerifiedAddress } from "./social-account.ts";

const ownAccount = (input: DisconnectInput) =>
  Effect.gen(function* () {
    yield* lockKey(`user:${input.userId}`);
    const mine = yield* listSocialAccounts(input.userId);
    const row = mine.find((r) => r.provider === input.provider && r.uid === input.uid);
    return row === undefined ? yield* fail("account_not_found") : { row, mine };
  });

export function socialDisconnectActors(step: Step, config: ResolvedConfig) {
  const checks = (input: DisconnectInput) =>
    Effect.gen(function* () {
      const { row, mine } = yield* ownAccount(input);
      if (mine.length === 1) {
        const user = toUserRef((yield* findUserById(input.userId))!);
        if (!user.hasUsablePassword) {
          return yield* fail("no_password");
        }
        if (config.account.emailVerification === "mandatory" && !(yield* hasVerifiedAddress(input.userId))) {
          return yield* fail("no_verified_email");
        }
      }
      return row;
    });
  return {
    checkDisconnect: fromPromise<void, DisconnectInput>(({ input }) => step.write(Effect.asVoid(checks(input)))),
    removeSocialAccount: fromPromise<DisconnectOutput, DisconnectInput>(async ({ input }) => {
      const { account, user } = await step.write(
        Effect.gen(function* () {
          const row = yield* checks(input);
          yield* deleteSocialAccount(row.id);
          return { account: toSocialAccountRef(row), user: toUserRef((yield* findUserById(input.userId))!) };
        }),
      );
      const provider = config.socialaccount.providers.find((p) => p.id === account.provider);
      if (config.account.emailNotifications && user.email !== null) {
        step.mail({ kind: "account_disconnected", to: user.email, userId: user.id, provider: provider?.name ?? account.provider });
      }
      return { account };
    }),
  };
}
