import { describe, expect } from "vitest";
import { reauthenticateMachine } from "../../machines/reauthenticate.ts";
import { Secret } from "../../machines/secret.ts";
import type { UserRef } from "../../machines/signals.ts";
import { deferred, expectNoSecretsPersisted, fail, scenarios, settings, startFlow, tagsOf, user } from "./support.ts";
import type { Fakes } from "./support.ts";

const PASSWORD = "correct horse battery staple 41";
const WRONG = "not the password at all 17";
const s = scenarios();

const alice = user({ id: "u1", username: "alice", email: "alice@example.com" });
const submit = (password: string) => ({ type: "SUBMIT" as const, password: new Secret(password) });

async function flowFor(fakeActors: Fakes | undefined, sessionUser: UserRef | null = alice) {
  const flow = await startFlow(reauthenticateMachine, {
    input: { settings: settings(), sessionUser },
    ...(fakeActors === undefined ? {} : { fakes: fakeActors }),
  });
  expect(flow.snapshot().value).toBe("idle");
  return flow;
}

describe("reauthenticate", () => {
  s.it("rests in idle, untagged, holding no password", async () => {
    const flow = await flowFor({ reauthenticate: () => undefined });
    const snapshot = flow.snapshot();
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual([]);
    expect(snapshot.context).toEqual({ sessionUser: alice, password: null, error: null });
    expect(flow.calls("reauthenticate")).toEqual([]);
  });

  s.it("with the right password ends done and emits no signal at all, in particular no user_logged_in", async () => {
    const flow = await flowFor({ reauthenticate: () => undefined });
    const snapshot = await flow.send(submit(PASSWORD));
    expect(snapshot.value).toBe("done");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signals).toEqual([]);
    expect(flow.timeline).toEqual(["actor:reauthenticate"]);
    expect(snapshot.context.password).toBeNull();
    expect(snapshot.context.error).toBeNull();
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("hands the session user's id and the password, still wrapped as a Secret, to the reauthenticate actor", async () => {
    const flow = await flowFor({ reauthenticate: () => undefined });
    await flow.send(submit(PASSWORD));
    const calls = flow.calls("reauthenticate");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.userId).toBe("u1");
    expect(calls[0]?.password).toBeInstanceOf(Secret);
    expect(calls[0]?.password.reveal()).toBe(PASSWORD);
  });

  s.it("with a wrong password ends rejected with incorrect_password on password, emits nothing and forgets the password", async () => {
    const flow = await flowFor({ reauthenticate: fail("incorrect_password", "password") });
    const snapshot = await flow.send(submit(WRONG));
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "incorrect_password", param: "password" });
    expect(snapshot.context.password).toBeNull();
    expect(flow.calls("reauthenticate")[0]?.password.reveal()).toBe(WRONG);
    expect(flow.signals).toEqual([]);
    expectNoSecretsPersisted(flow, WRONG);
  });

  s.it("when the login_failed limiter refuses, ends rejected with too_many_login_attempts", async () => {
    const flow = await flowFor({ reauthenticate: fail("too_many_login_attempts", "password") });
    const snapshot = await flow.send(submit(PASSWORD));
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "too_many_login_attempts", param: "password" });
    expect(flow.signals).toEqual([]);
  });

  s.it("maps an error that is not a flow error to unexpected", async () => {
    const flow = await flowFor({
      reauthenticate: () => {
        throw new Error(`hash check crashed for ${PASSWORD}`);
      },
    });
    const snapshot = await flow.send(submit(PASSWORD));
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signals).toEqual([]);
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("fails loudly with 'not provided: reauthenticate' and ends rejected with unexpected", async () => {
    const flow = await flowFor(undefined);
    const snapshot = await flow.send(submit(PASSWORD));
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: reauthenticate");
    expect(flow.signals).toEqual([]);
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("for an anonymous session ends unauthenticated without calling the actor or keeping the password", async () => {
    const flow = await flowFor({ reauthenticate: () => undefined }, null);
    const snapshot = await flow.send(submit(PASSWORD));
    expect(snapshot.value).toBe("unauthenticated");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["unauthenticated"]);
    expect(snapshot.context.password).toBeNull();
    expect(flow.calls("reauthenticate")).toEqual([]);
    expect(flow.signals).toEqual([]);
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("never serialises the password while the check is in flight, and emits nothing before it succeeds", async () => {
    const pending = deferred<void>();
    const flow = await flowFor({ reauthenticate: () => pending.promise });
    flow.actor.send(submit(PASSWORD));
    expect(flow.snapshot().value).toBe("verifying");
    expect(flow.snapshot().context.password).toBeInstanceOf(Secret);
    const inFlight = JSON.stringify(flow.actor.getPersistedSnapshot());
    expect(inFlight).not.toContain(PASSWORD);
    expect(inFlight).toContain("<redacted>");
    expect(flow.signals).toEqual([]);
    pending.resolve();
    const snapshot = await flow.settled();
    expect(snapshot.value).toBe("done");
    expect(flow.signals).toEqual([]);
    expect(JSON.stringify(flow.actor.getPersistedSnapshot())).not.toContain(PASSWORD);
  });

  s.it("never serialises the password while a failing check is in flight", async () => {
    const pending = deferred<void>();
    const flow = await flowFor({ reauthenticate: () => pending.promise });
    flow.actor.send(submit(WRONG));
    expect(flow.snapshot().value).toBe("verifying");
    expect(JSON.stringify(flow.actor.getPersistedSnapshot())).not.toContain(WRONG);
    pending.reject({ code: "incorrect_password", param: "password" });
    const snapshot = await flow.settled();
    expect(snapshot.value).toBe("rejected");
    expect(JSON.stringify(flow.actor.getPersistedSnapshot())).not.toContain(WRONG);
  });
});

s.itCoversEveryStateAndTransition(reauthenticateMachine);
