import { describe, expect } from "vitest";
import type { DisconnectOutput } from "../../machines/social-contracts.ts";
import { socialDisconnectMachine } from "../../machines/social-disconnect.ts";
import type { SocialDisconnectEvent } from "../../machines/social-disconnect.ts";
import type { UserRef } from "../../machines/signals.ts";
import { deferred, fail, scenarios, settings, socialAccount, startFlow, tagsOf, user } from "./support.ts";
import type { Fakes } from "./support.ts";

const s = scenarios();

const alice = user({ id: "u1", username: "alice", email: "alice@example.com" });
const account = socialAccount({ id: "sa1", provider: "dummy", uid: "100", userId: "u1" });
const target = { userId: "u1", provider: "dummy", uid: "100" };
const disconnect: SocialDisconnectEvent = { type: "DISCONNECT", provider: "dummy", uid: "100" };

function fakes(overrides: Fakes = {}): Fakes {
  return {
    checkDisconnect: () => undefined,
    removeSocialAccount: () => ({ account }),
    ...overrides,
  };
}

async function run(fakeActors: Fakes, options: { sessionUser?: UserRef | null; needsReauthentication?: boolean } = {}) {
  const flow = await startFlow(socialDisconnectMachine, {
    input: {
      settings: settings(),
      sessionUser: options.sessionUser === undefined ? alice : options.sessionUser,
      needsReauthentication: options.needsReauthentication ?? false,
    },
    fakes: fakeActors,
  });
  expect(flow.snapshot().value).toBe("idle");
  const snapshot = await flow.send(disconnect);
  return { flow, snapshot };
}

describe("social disconnect", () => {
  s.it("allowed: checks, removes, then social_account_removed with the removed account; done", async () => {
    const { flow, snapshot } = await run(fakes());
    expect(snapshot.value).toBe("removed");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signals).toEqual([{ type: "social_account_removed", socialAccount: account }]);
    expect(flow.timeline).toEqual(["actor:checkDisconnect", "actor:removeSocialAccount", "signal:social_account_removed"]);
    expect(flow.calls("checkDisconnect")).toEqual([target]);
    expect(flow.calls("removeSocialAccount")).toEqual([target]);
    expect(snapshot.context.removed).toEqual(account);
    expect(snapshot.context.error).toBeNull();
  });

  s.it("emits social_account_removed only once removeSocialAccount has resolved", async () => {
    const removing = deferred<DisconnectOutput>();
    const flow = await startFlow(socialDisconnectMachine, {
      input: { settings: settings(), sessionUser: alice, needsReauthentication: false },
      fakes: fakes({ removeSocialAccount: () => removing.promise }),
    });
    flow.actor.send(disconnect);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(flow.snapshot().value).toBe("removing");
    expect(flow.timeline).toEqual(["actor:checkDisconnect", "actor:removeSocialAccount"]);
    expect(flow.signals).toEqual([]);
    removing.resolve({ account });
    const snapshot = await flow.settled();
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.timeline).toEqual(["actor:checkDisconnect", "actor:removeSocialAccount", "signal:social_account_removed"]);
  });

  s.it("refused by the check (no_password): rejected, no signal, removeSocialAccount not called", async () => {
    const { flow, snapshot } = await run(fakes({ checkDisconnect: fail("no_password") }));
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "no_password" });
    expect(flow.signals).toEqual([]);
    expect(flow.timeline).toEqual(["actor:checkDisconnect"]);
    expect(flow.calls("removeSocialAccount")).toEqual([]);
    expect(snapshot.context.removed).toBeNull();
  });

  s.it("refused by the check (no_verified_email, account_not_found): rejected with that code", async () => {
    for (const code of ["no_verified_email", "account_not_found"] as const) {
      const { flow, snapshot } = await run(fakes({ checkDisconnect: fail(code) }));
      expect(tagsOf(snapshot)).toEqual(["rejected"]);
      expect(snapshot.context.error).toEqual({ code });
      expect(flow.signals).toEqual([]);
      expect(flow.calls("removeSocialAccount")).toEqual([]);
    }
  });

  s.it("needing reauthentication: reauthenticate after the check passed, nothing removed", async () => {
    const { flow, snapshot } = await run(fakes(), { needsReauthentication: true });
    expect(snapshot.value).toBe("reauthenticate");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["reauthenticate"]);
    expect(flow.signals).toEqual([]);
    expect(flow.timeline).toEqual(["actor:checkDisconnect"]);
    expect(flow.calls("removeSocialAccount")).toEqual([]);
    expect(snapshot.context.removed).toBeNull();
  });

  s.it("needing reauthentication but refused by the check: the check's error wins", async () => {
    const { flow, snapshot } = await run(fakes({ checkDisconnect: fail("no_password") }), { needsReauthentication: true });
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "no_password" });
    expect(flow.signals).toEqual([]);
  });

  s.it("anonymous: unauthenticated without calling any actor", async () => {
    const { flow, snapshot } = await run(fakes(), { sessionUser: null });
    expect(snapshot.value).toBe("unauthenticated");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["unauthenticated"]);
    expect(flow.signals).toEqual([]);
    expect(flow.timeline).toEqual([]);
  });

  s.it("when removing fails: rejected, no social_account_removed", async () => {
    const { flow, snapshot } = await run(fakes({ removeSocialAccount: fail("account_not_found") }));
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "account_not_found" });
    expect(flow.signals).toEqual([]);
    expect(snapshot.context.removed).toBeNull();
  });

  s.it("with actors not provided: fails loudly with 'not provided: checkDisconnect' and ends rejected", async () => {
    const flow = await startFlow(socialDisconnectMachine, {
      input: { settings: settings(), sessionUser: alice, needsReauthentication: false },
    });
    const snapshot = await flow.send(disconnect);
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: checkDisconnect");
    expect(flow.signals).toEqual([]);
  });
});

s.itCoversEveryStateAndTransition(socialDisconnectMachine);
