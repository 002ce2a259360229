import { describe, expect, it } from "vitest";
import { passwordChangeMachine } from "../../machines/password-change.ts";
import { passwordSetMachine } from "../../machines/password-set.ts";

// Both flows are one statechart with a different signal; password-change.test.ts drives both.
describe("password-set machine", () => {
  it("has the same states as password-change and its own id", () => {
    expect(passwordSetMachine.id).toBe("password-set");
    expect(Object.keys(passwordSetMachine.root.states)).toEqual(Object.keys(passwordChangeMachine.root.states));
  });
});
