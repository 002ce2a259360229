/**
 * The code-verification fragment's scenarios (`machines/code-verification.ts`), run once per
 * flow that spreads it in: each flow's test file calls `codeVerificationScenarios` so that its
 * own transition coverage includes the fragment. Counting lives in the database row, so the
 * fake `checkCode` decides the outcome; these scenarios prove how the machines react to it.
 */
import { describe, expect } from "vitest";
import type { CheckCodeOutput, ResendCodeOutput } from "../../machines/contracts.ts";
import { Secret } from "../../machines/secret.ts";
import type { AuthSignal } from "../../machines/signals.ts";
import { deferred, expectNoSecretsPersisted, fail, tagsOf } from "./support.ts";
import type { ActorContracts, ActorName, Fakes, scenarios } from "./support.ts";

/** A fake `checkCode`: `right` is the one right code; the `attempts`-th wrong one is the last. */
export function checker(right: string, attempts = 3): NonNullable<Fakes["checkCode"]> {
  let wrong = 0;
  return ({ code }): CheckCodeOutput => {
    if (code !== null && code.reveal() === right) {
      return { result: "right", verificationId: "v-right" };
    }
    wrong += 1;
    return { result: "wrong", error: code === null ? "required" : "incorrect_code", last: wrong >= attempts };
  };
}

type CodeEvent = { type: "CODE"; code: Secret | null } | { type: "RESEND" };

/** What the scenarios read of a rested flow. */
interface Rested {
  readonly value: unknown;
  readonly status: string;
  readonly tags: Set<string>;
  readonly context: { readonly error: unknown; readonly secret: unknown };
}

/** The parts of a test flow (`startFlow`) the scenarios drive. */
export interface CodeFlow {
  send(event: CodeEvent): Promise<Rested>;
  settled(): Promise<Rested>;
  snapshot(): Rested;
  calls<K extends ActorName>(name: K): Array<ActorContracts[K][0]>;
  signalTypes(): Array<AuthSignal["type"]>;
  persisted(): string;
}

export interface CodeFlowUnderTest {
  /** The field a code arrives in (`code` for login codes, `key` otherwise). */
  readonly param: "code" | "key";
  /** A flow resting in `awaitingCode`, with the flow's own actors faked and `fakes` on top. */
  awaiting(fakes: Fakes): Promise<CodeFlow>;
  /** Resumes a persisted snapshot (as between HTTP requests). */
  resume(snapshot: unknown, fakes: Fakes): Promise<CodeFlow>;
  /** What a resend that mailed `confirmation`-carrying output emits (nothing for login codes). */
  readonly resent: ResendCodeOutput;
  readonly resentSignals: ReadonlyArray<AuthSignal["type"]>;
}

export function codeVerificationScenarios(s: ReturnType<typeof scenarios>, flow: CodeFlowUnderTest): void {
  const WRONG = "WRNG-WRNG";
  const RIGHT = "RGHT-RGHT";
  const code = (value: string | null): CodeEvent => ({ type: "CODE", code: value === null ? null : new Secret(value) });
  const send = (f: CodeFlow, event: CodeEvent) => f.send(event);

  describe("the shared code-verification process", () => {
    s.it("a wrong code rests again in awaitingCode with incorrect_code on the code's field, no signal, nothing kept", async () => {
      const f = await flow.awaiting({ checkCode: checker(RIGHT) });
      expect(tagsOf(f.snapshot())).toContain("code:pending");
      const snapshot = await send(f, code(WRONG));
      expect(snapshot.value).toBe("awaitingCode");
      expect(snapshot.context.error).toEqual({ code: "incorrect_code", param: flow.param });
      expect(snapshot.context.secret).toBeNull();
      expect(f.calls("checkCode").map((c) => c.code?.reveal())).toEqual([WRONG]);
      expect(f.signalTypes()).toEqual([]);
      expectNoSecretsPersisted(f, WRONG);
    });

    s.it("no code at all is checked as a wrong one and answered `required`", async () => {
      const f = await flow.awaiting({ checkCode: checker(RIGHT) });
      const snapshot = await send(f, code(null));
      expect(snapshot.value).toBe("awaitingCode");
      expect(snapshot.context.error).toEqual({ code: "required", param: flow.param });
      expect(f.calls("checkCode")).toEqual([{ code: null }]);
    });

    s.it("the attempt that reaches the limit still answers incorrect_code, and the flow is over (codeAborted)", async () => {
      const f = await flow.awaiting({ checkCode: checker(RIGHT, 2) });
      expect((await send(f, code(WRONG))).value).toBe("awaitingCode");
      const snapshot = await send(f, code(WRONG));
      expect(snapshot.value).toBe("codeAborted");
      expect(snapshot.status).toBe("done");
      expect(tagsOf(snapshot)).toEqual(["code:ended", "rejected"]);
      expect(snapshot.context.error).toEqual({ code: "incorrect_code", param: flow.param });
      expect(f.signalTypes()).toEqual([]);
    });

    s.it("a process that is gone (timed out, ended, out of attempts) ends at codeGone without an error", async () => {
      const f = await flow.awaiting({ checkCode: () => ({ result: "gone" }) });
      const snapshot = await send(f, code(RIGHT));
      expect(snapshot.value).toBe("codeGone");
      expect(tagsOf(snapshot)).toEqual(["code:ended", "code:gone"]);
      expect(snapshot.context.error).toBeNull();
      expect(f.signalTypes()).toEqual([]);
    });

    s.it("a failing check ends failed with its error", async () => {
      const f = await flow.awaiting({ checkCode: fail("unexpected") });
      const snapshot = await send(f, code(RIGHT));
      expect(snapshot.value).toBe("failed");
      expect(snapshot.context.error).toEqual({ code: "unexpected" });
    });

    s.it("a resend that mailed rests again, without error, announcing what the flow announces", async () => {
      const f = await flow.awaiting({ resendCode: () => flow.resent });
      const snapshot = await send(f, { type: "RESEND" });
      expect(snapshot.value).toBe("awaitingCode");
      expect(snapshot.context.error).toBeNull();
      expect(f.calls("resendCode")).toHaveLength(1);
      expect(f.signalTypes()).toEqual(flow.resentSignals);
    });

    s.it("a resend over the quota rests with flow_not_pending (409); one held by the cooldown with rate_limited (429)", async () => {
      const outputs: Array<ResendCodeOutput> = [{ result: "exhausted" }, { result: "rate_limited" }];
      const f = await flow.awaiting({ resendCode: (_input, call) => outputs[call]! });
      expect((await send(f, { type: "RESEND" })).context.error).toEqual({ code: "flow_not_pending" });
      const snapshot = await send(f, { type: "RESEND" });
      expect(snapshot.value).toBe("awaitingCode");
      expect(snapshot.context.error).toEqual({ code: "rate_limited" });
      expect(f.signalTypes()).toEqual([]);
    });

    s.it("a failing resend ends failed", async () => {
      const f = await flow.awaiting({ resendCode: fail("unexpected") });
      expect((await send(f, { type: "RESEND" })).value).toBe("failed");
    });

    s.it("keeps no count in the snapshot: a restored flow asks checkCode again, which counts in the row", async () => {
      const f = await flow.awaiting({ checkCode: checker(RIGHT) });
      await send(f, code(WRONG));
      const persisted = f.persisted();
      expect(persisted).not.toMatch(/attempts|resends/);
      const restored = await flow.resume(JSON.parse(persisted), { checkCode: () => ({ result: "wrong", error: "incorrect_code", last: true }) });
      const snapshot = await send(restored, code(WRONG));
      expect(snapshot.value).toBe("codeAborted");
      expect(restored.calls("checkCode")).toHaveLength(1);
    });

    s.it("never serialises the code while checkCode is in flight", async () => {
      const gate = deferred<CheckCodeOutput>();
      const f = await flow.awaiting({ checkCode: () => gate.promise });
      void send(f, code(WRONG));
      expectNoSecretsPersisted(f, WRONG);
      gate.resolve({ result: "wrong", error: "incorrect_code", last: false });
      await f.settled();
      expectNoSecretsPersisted(f, WRONG);
    });
  });
}
