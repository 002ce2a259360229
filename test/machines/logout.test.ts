import { describe, expect } from "vitest";
import { logoutMachine } from "../../machines/logout.ts";
import { deferred, fail, scenarios, settings, startFlow, tagsOf, user } from "./support.ts";

const s = scenarios();
const alice = user({ id: "u1", username: "alice" });

describe("logout", () => {
  s.it("emits user_logged_out with the session's user before the session is ended, then ends done", async () => {
    const flow = await startFlow(logoutMachine, {
      input: { settings: settings(), sessionUser: alice },
      fakes: { endSession: () => undefined },
    });
    expect(flow.snapshot().value).toBe("idle");
    expect(flow.signalTypes()).toEqual([]);
    const snapshot = await flow.send({ type: "LOGOUT" });
    expect(snapshot.value).toBe("done");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signals).toEqual([{ type: "user_logged_out", user: alice }]);
    expect(flow.timeline).toEqual(["signal:user_logged_out", "actor:endSession"]);
    expect(flow.calls("endSession")).toHaveLength(1);
  });

  s.it("has already emitted user_logged_out while endSession is still running", async () => {
    const ending = deferred<void>();
    const flow = await startFlow(logoutMachine, {
      input: { settings: settings(), sessionUser: alice },
      fakes: { endSession: () => ending.promise },
    });
    flow.actor.send({ type: "LOGOUT" });
    expect(flow.snapshot().value).toBe("endingSession");
    expect(flow.signalTypes()).toEqual(["user_logged_out"]);
    ending.resolve();
    const snapshot = await flow.settled();
    expect(snapshot.value).toBe("done");
    expect(flow.signalTypes()).toEqual(["user_logged_out"]);
  });

  s.it("for an anonymous session (headless DELETE), emits user_logged_out with user null", async () => {
    const flow = await startFlow(logoutMachine, {
      input: { settings: settings(), sessionUser: null },
      fakes: { endSession: () => undefined },
    });
    const snapshot = await flow.send({ type: "LOGOUT" });
    expect(snapshot.value).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signals).toEqual([{ type: "user_logged_out", user: null }]);
  });

  s.it("when ending the session fails, ends failed after user_logged_out (the signal is not taken back)", async () => {
    const flow = await startFlow(logoutMachine, {
      input: { settings: settings(), sessionUser: alice },
      fakes: { endSession: fail("unexpected") },
    });
    const snapshot = await flow.send({ type: "LOGOUT" });
    expect(snapshot.value).toBe("failed");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(flow.signalTypes()).toEqual(["user_logged_out"]);
    expect(flow.actorErrors).toEqual([{ code: "unexpected" }]);
  });

  s.it("fails loudly with 'not provided: endSession' and ends failed", async () => {
    const flow = await startFlow(logoutMachine, { input: { settings: settings(), sessionUser: alice } });
    const snapshot = await flow.send({ type: "LOGOUT" });
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: endSession");
    expect(flow.signalTypes()).toEqual(["user_logged_out"]);
  });

  s.it("persists only the session user, nothing else", async () => {
    const flow = await startFlow(logoutMachine, {
      input: { settings: settings(), sessionUser: alice },
      fakes: { endSession: () => undefined },
    });
    await flow.send({ type: "LOGOUT" });
    expect(JSON.parse(flow.persisted()).context).toEqual({ sessionUser: alice });
  });
});

s.itCoversEveryStateAndTransition(logoutMachine);
