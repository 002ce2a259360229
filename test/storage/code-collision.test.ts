/**
 * A new code equal to an old one (SECURITY.md TK-05, TK-07): code digests are unique among live
 * rows only, so a repeated code is issued and works instead of answering 500. The Tokens service
 * is replaced by one that always draws the same code. Runs on SQLite and PostgreSQL.
 */
import { Effect, Layer } from "effect";
import { describe, expect, it } from "vitest";
import { Tokens } from "../../src/services/tokens.ts";
import { codeFromMail, goodPassword, harness, testSecret } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

const fixedCode = "BCDF-GHJK";
const real = Effect.runSync(Effect.provide(Tokens, Tokens.layer(testSecret)));
const sameCodeTokens = Layer.succeed(Tokens, { ...real, code: () => fixedCode });
const account = { loginMethods: ["email"] as const, emailVerification: "none" as const, loginByCodeEnabled: true };

describe("code digests", () => {
  it("a login code equal to an earlier one (used, then re-issued) is issued and confirms, no 500", async () => {
    const h = await harness({ account, passwordHasher: fastHasher }, { layer: sameCodeTokens });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    for (let round = 0; round < 2; round++) {
      const client = h.app();
      const requested = await client.request("POST", "auth/code/request", { email: "ann@example.com" });
      expect(requested.status).toBe(401);
      // The first code also proves the signup's unverified address from another session: an
      // "account secured" notice comes beside it (issue #10 finding 1).
      const mail = h.takeMails().find((m) => m.subject.endsWith("Sign In Code"));
      expect(codeFromMail(mail!)).toBe(fixedCode);
      const confirmed = await client.request("POST", "auth/code/confirm", { code: fixedCode });
      expect(confirmed.status).toBe(200);
    }
    const [count] = await h.query<{ n: number }>("SELECT COUNT(*) AS n FROM auth_verification");
    expect(Number(count!.n)).toBe(2);
    await h.close();
  });
});
