/**
 * How many transactions one password login commits with allauth's default rate limits on, and how
 * often a guarded request reads its session, counted from what `@effect/sql` reports on its spans
 * (SQLite and PostgreSQL alike). No timing: counts.
 */
import { describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import { statementCounter } from "../support/statement-counter.ts";
import { fastHasher, raw } from "./support.ts";

describe("commits per login (allauth's default rate limits) and session reads per request", () => {
  it("a password login commits twice: the limiter hits with the attempt before the hash, the session with the attempt given back after it; a wrong password commits once", async () => {
    const { counter, layer } = statementCounter();
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher }, { layer, tracing: true });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();

    counter.commits = 0;
    const wrong = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: "not the password" });
    expect(wrong.status).toBe(400);
    expect(counter.commits).toBe(1);

    counter.commits = 0;
    counter.statements.length = 0;
    const right = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(right.status).toBe(200);
    expect(counter.commits).toBe(2);
    // The limiter's part: the IP's login hit counted and taken in one statement, the login_failed
    // buckets counted and taken in one, the attempt given back in one.
    const limiter = counter.statements.filter((text) => /auth_rate_limit/.test(text)).map((text) => text.trim().split(/\s+/)[0]);
    expect(limiter).toEqual(["INSERT", "INSERT", "DELETE"]);
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
    // The wrong guess still counts against the account; the right one was given back.
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:key:%'")).toHaveLength(1);
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login:%'")).toHaveLength(2);
    await h.close();
  });

  it("with every rate limit off, a password login commits once and a wrong password commits nothing; one statement finds the account with its user and addresses", async () => {
    const { counter, layer } = statementCounter();
    const h = await harness(
      { account: { loginMethods: ["email"], emailVerification: "none", rateLimits: false }, passwordHasher: fastHasher },
      { layer, tracing: true },
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
    // The account, its user and its addresses in one statement; the last-login stamp hands the
    // user row back; nothing else reads either.
    expect(counter.statements.filter((text) => /^SELECT a\.id AS match_id/i.test(text.trim()))).toHaveLength(1);
    expect(counter.statements.filter((text) => /FROM auth_user WHERE id|FROM auth_email_address WHERE user_id/i.test(text))).toHaveLength(0);
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

  it("a guarded request reads its session in one query, once: shared by admission, the endpoint and its step", async () => {
    const { counter, layer } = statementCounter();
    const h = await harness(
      { account: { loginMethods: ["email"], emailVerification: "none" }, usersessions: { trackActivity: true }, passwordHasher: fastHasher },
      { layer, tracing: true },
    );
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();
    counter.statements.length = 0;
    const changed = await client.request("POST", "account/password/change", { current_password: goodPassword, new_password: "a fresh passphrase 123" });
    expect(changed.status).toBe(200);
    const sessionReads = counter.statements.filter((text) => /^SELECT .*FROM auth_session/is.test(text.trim()));
    expect(sessionReads).toHaveLength(1);
    // The user comes with the session row: the only reads of a user by id are the password flow's two.
    expect(counter.statements.filter((text) => /^SELECT \* FROM auth_user WHERE id/i.test(text.trim()))).toHaveLength(2);
    expect(h.takeSignals()).toEqual(["password_changed"]);
    await h.close();
  });
  it("with allauth's default rate limits, each endpoint's own hit rides in its step: a signup commits once, a password change twice, an address added once", async () => {
    const { counter, layer } = statementCounter();
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher }, { layer, tracing: true });
    const client = h.app();
    counter.commits = 0;
    counter.statements.length = 0;
    expect((await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    expect(counter.commits).toBe(1);
    expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in"]);
    // The address is looked up by the form, then again in the transaction (a concurrent signup may
    // have won); the new user is not read back.
    const count = (pattern: RegExp) => counter.statements.filter((text) => pattern.test(text.trim())).length;
    expect(count(/^SELECT \* FROM auth_email_address a WHERE a.email/i)).toBe(2);
    expect(count(/^SELECT \* FROM auth_user WHERE id/i)).toBe(0);

    counter.commits = 0;
    const change = { current_password: goodPassword, new_password: "a fresh passphrase 123" };
    expect((await client.request("POST", "account/password/change", change)).status).toBe(200);
    // The `change_password` hit with the account's attempt before the hash, then the change.
    expect(counter.commits).toBe(2);
    expect(h.takeSignals()).toEqual(["password_changed"]);

    counter.commits = 0;
    expect((await client.request("POST", "account/email", { email: "ann.two@example.com" })).status).toBe(200);
    // One for the step; the outbox then claims its verification mail and marks it sent.
    expect(h.takeMails()).toHaveLength(1);
    expect(counter.commits).toBe(1 + 2);
    expect(h.takeSignals()).toEqual(["email_confirmation_sent", "email_added"]);

    const buckets = await h.query<{ bucket: string }>("SELECT bucket FROM auth_rate_limit");
    const limits = buckets.map((row) => row.bucket.split(":").slice(0, 2).join(":")).sort();
    expect(limits).toEqual(["changePassword:user", "confirm_email:key", "manageEmail:user", "signup:ip"]);
    await h.close();
  });

  it("a spent limit answers 429 before any hash, and a step that keeps nothing still counts its request", async () => {
    let hashes = 0;
    const counting = { hash: (p: string) => ((hashes += 1), fastHasher.hash(p)), verify: fastHasher.verify };
    const h = await harness({
      account: { loginMethods: ["email"], emailVerification: "none", rateLimits: { signup: "2/m/ip", changePassword: "5/m/user" } },
      passwordHasher: counting,
    });
    const client = h.app();
    expect((await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();
    // A receiver that throws rolls the change back (500); its `changePassword` hit stays.
    const off = h.auth.signals.on("password_changed", () => {
      throw new Error("receiver failed");
    });
    const change = { current_password: goodPassword, new_password: "a fresh passphrase 123" };
    expect((await client.request("POST", "account/password/change", change)).status).toBe(500);
    off();
    h.takeSignals();
    const hits = (prefix: string) => h.query(`SELECT bucket FROM auth_rate_limit WHERE bucket LIKE '${prefix}:%'`);
    expect(await hits("changePassword")).toHaveLength(1);
    expect(await h.query("SELECT password FROM auth_user")).toEqual([{ password: "fast$" + goodPassword }]);
    // Adding an address checks no password: its `manageEmail` hit rode in the step's transaction,
    // so the rollback records it anew.
    const offAdded = h.auth.signals.on("email_added", () => {
      throw new Error("receiver failed");
    });
    expect((await client.request("POST", "account/email", { email: "ann.two@example.com" })).status).toBe(500);
    offAdded();
    h.takeSignals();
    expect(await hits("manageEmail")).toHaveLength(1);
    expect(await h.count("auth_email_address")).toBe(1);

    // Two signups from one address spend its `signup` limit; the third is answered before its hash.
    const signup = (email: string) => raw(h, "POST", "app/v1/auth/signup", { body: { email, password: goodPassword }, ip: "10.7.7.7" });
    expect((await signup("bob@example.com")).status).toBe(200);
    expect((await signup("cy@example.com")).status).toBe(200);
    h.takeSignals();
    const before = hashes;
    expect((await signup("di@example.com")).status).toBe(429);
    expect(hashes).toBe(before);
    // Ann's from her own address, and the two that spent this one's.
    expect(await hits("signup")).toHaveLength(3);
    expect(await h.count("auth_user")).toBe(3);
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });

  it("the session is read once the body is in: a session ended while a slow body was on its way answers 410", async () => {
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();
    const token = client.token!;
    let push!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (controller) => void (push = controller) });
    const pending = h.auth.handler(
      new Request("http://127.0.0.1/_allauth/app/v1/account/email", {
        method: "POST",
        headers: { "content-type": "application/json", "x-session-token": token, "user-agent": "vitest" },
        body,
        duplex: "half",
      } as RequestInit),
      { ip: "10.9.9.9" },
    );
    push.enqueue(new TextEncoder().encode('{"email": "ann.two'));
    expect((await client.request("DELETE", "auth/session")).status).toBe(401);
    push.enqueue(new TextEncoder().encode('@example.com"}'));
    push.close();
    expect((await pending).status).toBe(410);
    expect(await h.query("SELECT email FROM auth_email_address")).toEqual([{ email: "ann@example.com" }]);
    expect(h.takeSignals()).toEqual(["user_logged_out"]);
    await h.close();
  });
});
