/**
 * Effect's spans are off unless `tracing: true`: a tracer in `layer` sees no span by default, and
 * every statement and commit with the option on.
 */
import { describe, expect, it } from "vitest";
import { fastHasher } from "../http/support.ts";
import { goodPassword, harness } from "../support/harness.ts";
import { statementCounter } from "../support/statement-counter.ts";

const account = { loginMethods: ["email" as const], emailVerification: "none" as const };

describe("tracing", () => {
  it("a tracer given in `layer` sees no span by default", async () => {
    const { counter, layer } = statementCounter();
    const h = await harness({ account, passwordHasher: fastHasher }, { layer });
    const signup = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(signup.status).toBe(200);
    expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(counter.statements).toEqual([]);
    expect(counter.commits).toBe(0);
    await h.close();
  });

  it("with `tracing: true` it sees each statement and each commit of a signup", async () => {
    const { counter, layer } = statementCounter();
    const h = await harness({ account, passwordHasher: fastHasher }, { layer, tracing: true });
    counter.commits = 0;
    counter.statements.length = 0;
    const signup = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(signup.status).toBe(200);
    expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(counter.statements.some((text) => /^INSERT INTO auth_user\b/i.test(text.trim()))).toBe(true);
    expect(counter.commits).toBeGreaterThanOrEqual(1);
    await h.close();
  });
});
