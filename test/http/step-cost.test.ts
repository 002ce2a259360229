/**
 * How many transactions one password login commits with allauth's default rate limits on, and how
 * often a guarded request reads its session, counted from what `@effect/sql` reports on its spans
 * (SQLite and PostgreSQL alike). No timing: counts.
 */
import { describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import { statementCounter } from "../support/statement-counter.ts";
import { fastHasher } from "./support.ts";

describe("commits per login (allauth's default rate limits) and session reads per request", () => {
  it("a password login commits twice: the limiter hits with the attempt before the hash, the session with the attempt given back after it; a wrong password commits once", async () => {
    const { counter, layer } = statementCounter();
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher }, { layer });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();

    counter.commits = 0;
    const wrong = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: "not the password" });
    expect(wrong.status).toBe(400);
    expect(counter.commits).toBe(1);

    counter.commits = 0;
    const right = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(right.status).toBe(200);
    expect(counter.commits).toBe(2);
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
    // The wrong guess still counts against the account; the right one was given back.
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:key:%'")).toHaveLength(1);
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login:%'")).toHaveLength(2);
    await h.close();
  });

  it("with every rate limit off, a password login commits once and a wrong password commits nothing; the user is read once in the session's transaction", async () => {
    const { counter, layer } = statementCounter();
    const h = await harness(
      { account: { loginMethods: ["email"], emailVerification: "none", rateLimits: false }, passwordHasher: fastHasher },
      { layer },
    );
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();

    counter.commits = 0;
    const wrong = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: "not the password" });
    expect(wrong.status).toBe(400);
    expect(counter.commits).toBe(0);
    expect(h.takeSignals()).toEqual([]);

    counter.commits = 0;
    counter.statements.length = 0;
    const right = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(right.status).toBe(200);
    expect(counter.commits).toBe(1);
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
    // Once to find the account, once as the last-login stamp hands the row back.
    expect(counter.statements.filter((text) => /^SELECT \* FROM auth_user WHERE id/i.test(text.trim()))).toHaveLength(1);
    expect(counter.statements.filter((text) => /^UPDATE auth_user SET last_login .* RETURNING \*/is.test(text.trim()))).toHaveLength(1);
    // The new session is stored once, with its authentication record in it.
    expect(counter.statements.filter((text) => /^INSERT INTO auth_session/i.test(text.trim()))).toHaveLength(1);
    expect(counter.statements.filter((text) => /^UPDATE auth_session/i.test(text.trim()))).toHaveLength(0);
    const stored = await h.query<{ data: string }>("SELECT data FROM auth_session WHERE user_id IS NOT NULL");
    const methods = stored.map((row) => (JSON.parse(row.data).methods ?? []).map((m: { method: string }) => m.method).join(","));
    expect(methods.sort()).toEqual(["", "password"]);
    await h.close();
  });

  it("a well-formed login past a spent login limit answers 429 and takes no attempt; an invalid one still answers 429 first", async () => {
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none", rateLimits: { login: "1/m/ip" } }, passwordHasher: fastHasher });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();
    const client = h.app();
    expect((await client.request("POST", "auth/login", { email: "ann@example.com", password: "not the password" })).status).toBe(400);
    const attempts = () => h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:%'");
    expect(await attempts()).toHaveLength(2);
    expect((await client.request("POST", "auth/login", { email: "ann@example.com", password: "not the password" })).status).toBe(429);
    const sessions = await h.count("auth_session");
    const spent = await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(spent.status).toBe(429);
    expect(client.token).toBeNull();
    expect(await attempts()).toHaveLength(2);
    expect(await h.count("auth_session")).toBe(sessions);
    expect(h.takeSignals()).toEqual([]);
    expect((await client.request("POST", "auth/login", {})).status).toBe(429);
    await h.close();
  });

  it("a guarded request reads its session in one query, twice: at admission (shared with the endpoint) and as its step starts", async () => {
    const { counter, layer } = statementCounter();
    const h = await harness(
      { account: { loginMethods: ["email"], emailVerification: "none" }, usersessions: { trackActivity: true }, passwordHasher: fastHasher },
      { layer },
    );
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();
    counter.statements.length = 0;
    const changed = await client.request("POST", "account/password/change", { current_password: goodPassword, new_password: "a fresh passphrase 123" });
    expect(changed.status).toBe(200);
    const sessionReads = counter.statements.filter((text) => /^SELECT .*FROM auth_session/is.test(text.trim()));
    expect(sessionReads).toHaveLength(2);
    // The user comes with the session row: the only reads of a user by id are the password flow's two.
    expect(counter.statements.filter((text) => /^SELECT \* FROM auth_user WHERE id/i.test(text.trim()))).toHaveLength(2);
    expect(h.takeSignals()).toEqual(["password_changed"]);
    await h.close();
  });
});
