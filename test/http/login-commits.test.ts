/**
 * How many transactions one password login commits with allauth's default rate limits on,
 * counted from the `db.transaction.commit` events `@effect/sql` records on its transaction spans
 * (SQLite and PostgreSQL alike). No timing: a count.
 */
import { Effect, Layer, Tracer } from "effect";
import { describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import { fastHasher } from "./support.ts";

/** A tracer layer that counts committed transactions (the native tracer does the rest). */
function commitCounter() {
  const counter = { commits: 0 };
  const layer = Layer.unwrapEffect(
    Effect.map(Effect.tracer, (native) =>
      Layer.setTracer(
        Tracer.make({
          context: native.context,
          span: (...args) => {
            const span = native.span(...args);
            const event = span.event.bind(span);
            span.event = (name, startTime, attributes) => {
              if (name === "db.transaction.commit") {
                counter.commits += 1;
              }
              event(name, startTime, attributes);
            };
            return span;
          },
        }),
      ),
    ),
  );
  return { counter, layer };
}

describe("commits per login (allauth's default rate limits)", () => {
  it("a password login commits twice: the limiter hits with the attempt before the hash, the session with the attempt given back after it; a wrong password commits once", async () => {
    const { counter, layer } = commitCounter();
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
});
