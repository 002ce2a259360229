/**
 * Concurrency (SECURITY.md §10): parallel requests against one database end with one winner.
 */
import { describe, expect, it } from "vitest";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import { emailRows, fastHasher } from "./support.ts";

describe("races", () => {
  it("50 parallel signups with one email create one account, and every response looks the same", async () => {
    const h = await harness({
      account: { loginMethods: ["email"], emailVerification: "mandatory" },
      passwordHasher: fastHasher,
    });
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => h.app().request("POST", "auth/signup", { email: "race@example.com", password: goodPassword })),
    );
    expect(new Set(responses.map((r) => r.status))).toEqual(new Set([401]));
    expect(new Set(responses.map((r) => JSON.stringify(r.body.data)))).toHaveProperty("size", 1);
    expect(await h.count("auth_user")).toBe(1);
    expect(h.signals.filter((s) => s.type === "user_signed_up")).toHaveLength(1);
    await h.close();
  });

  it("10 parallel confirmations of the right login code log in exactly once", async () => {
    const h = await harness({
      account: { loginMethods: ["email"], emailVerification: "none", loginByCodeEnabled: true },
      passwordHasher: fastHasher,
    });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    h.takeSignals();
    const client = h.app();
    await client.request("POST", "auth/code/request", { email: "ann@example.com" });
    const code = codeFromMail(h.takeMails()[0]!);
    const responses = await Promise.all(Array.from({ length: 10 }, () => client.request("POST", "auth/code/confirm", { code })));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
    expect(h.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
    await h.close();
  });

  it("10 parallel wrong login codes leave the attempt counter at the limit and the flow aborted", async () => {
    const h = await harness({
      account: { loginMethods: ["email"], emailVerification: "none", loginByCodeEnabled: true },
      passwordHasher: fastHasher,
    });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    const client = h.app();
    await client.request("POST", "auth/code/request", { email: "ann@example.com" });
    const code = codeFromMail(h.takeMails()[0]!);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => client.request("POST", "auth/code/confirm", { code: `BCDF-GH${"JKLMNPQRST"[i]}${"JKLMNPQRST"[i]}` })),
    );
    // The third wrong code ended the flow (its row is gone); the right code then finds none.
    expect(await h.query("SELECT attempts FROM auth_flow WHERE kind = 'login-by-code'")).toEqual([]);
    const late = await client.request("POST", "auth/code/confirm", { code });
    expect(late.status).toBe(409);
    await h.close();
  });

  it("10 parallel resets with one key and different passwords: exactly one wins, and its password is the one stored", async () => {
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    await h.app().request("POST", "auth/password/request", { email: "ann@example.com" });
    const key = decodeURIComponent(/password\/reset\/key\/(\S+)/.exec(h.takeMails()[0]!.text)![1]!);
    h.takeSignals();
    const passwords = Array.from({ length: 10 }, (_, i) => `the new passphrase number ${i}`);
    const responses = await Promise.all(
      passwords.map((password) => h.app().request("POST", "auth/password/reset", { key, password })),
    );
    const winners = responses.map((r, i) => [r.status, i] as const).filter(([status]) => status === 401);
    expect(winners).toHaveLength(1);
    expect(h.takeSignals()).toEqual(["password_reset"]);
    const [user] = await h.query<{ password: string }>("SELECT password FROM auth_user");
    expect(user!.password).toBe(`fast$${passwords[winners[0]![1]]}`);
    await h.close();
  });

  it("parallel 'make primary' on different addresses leaves exactly one primary", async () => {
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    for (const email of ["b@example.com", "c@example.com", "d@example.com"]) {
      await client.request("POST", "account/email", { email });
    }
    await h.query("UPDATE auth_email_address SET verified = 1");
    await Promise.all(
      ["b@example.com", "c@example.com", "d@example.com", "ann@example.com"].map((email) =>
        client.request("PATCH", "account/email", { email, primary: true }),
      ),
    );
    expect((await emailRows(h)).filter((r) => r.is_primary === 1)).toHaveLength(1);
    await h.close();
  });

  it("the same add-email sent twice at once stores one row", async () => {
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();
    const [a, b] = await Promise.all([
      client.request("POST", "account/email", { email: "b@example.com" }),
      client.request("POST", "account/email", { email: "b@example.com" }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 400]);
    expect((await emailRows(h)).filter((r) => r.email === "b@example.com")).toHaveLength(1);
    expect(h.takeSignals().filter((s) => s === "email_added")).toHaveLength(1);
    await h.close();
  });
});
