/**
 * The sweep of expired rows (issue #10 finding 7, SECURITY.md DD-08), run by the outbox poller:
 * sessions, flows, verifications, redirect states and rate-limit hits past their expiry, and
 * delivered outbox rows past their retention, are deleted; live rows stay. Driven by TestClock.
 * Runs on SQLite and PostgreSQL.
 */
import { TestClock, TestContext } from "effect";
import { describe, expect, it, vi } from "vitest";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

const day = 86_400_000;

/** One expired (`old-…`, expiring at `soon`) and one live (`live-…`) row in every swept table. */
async function seed(h: Harness, soon: number, later: number): Promise<void> {
  await h.query("INSERT INTO auth_user (id, email, password, date_joined) VALUES ('u1', 'ann@example.com', '!', 0)");
  for (const [id, expires] of [["old", soon], ["live", later]] as const) {
    await h.query(
      "INSERT INTO auth_session (id, public_id, user_id, data, ip, user_agent, created_at, last_seen_at, expires_at) VALUES (?, ?, 'u1', '{}', '', '', 0, 0, ?)",
      `${id}-session`,
      id === "old" ? 1 : 2,
      expires,
    );
    await h.query(
      "INSERT INTO auth_flow (id, kind, session_id, snapshot, created_at, expires_at) VALUES (?, 'login', 'live-session', '{}', 0, ?)",
      `${id}-flow`,
      expires,
    );
    await h.query(
      "INSERT INTO auth_verification (id, purpose, digest, user_id, email, created_at, expires_at) VALUES (?, 'login_code', ?, 'u1', 'ann@example.com', 0, ?)",
      `${id}-verification`,
      `${id}-digest`,
      expires,
    );
    await h.query(
      "INSERT INTO auth_social_state (digest, session_id, provider, process, next, pkce_verifier_sealed, nonce, redirect_uri, created_at, expires_at) VALUES (?, 'live-session', 'dummy', 'login', '/', 'x', 'n', '/cb', 0, ?)",
      `${id}-state`,
      expires,
    );
  }
  // A flow of the expired session, itself not yet expired: it goes with its session.
  await h.query(
    "INSERT INTO auth_flow (id, kind, session_id, snapshot, created_at, expires_at) VALUES ('orphan-flow', 'login', 'old-session', '{}', 0, ?)",
    later,
  );
  await h.query("INSERT INTO auth_rate_limit (bucket, at) VALUES ('login:ip:1', 0)");
  await h.query(
    "INSERT INTO auth_outbox (id, kind, topic, payload, status, attempts, next_attempt_at, created_at, delivered_at) VALUES ('old-outbox', 'mail', 'mail', '{}', 'delivered', 1, 0, 0, 0)",
  );
  await h.query(
    "INSERT INTO auth_outbox (id, kind, topic, payload, status, attempts, next_attempt_at, created_at) VALUES ('dead-outbox', 'mail', 'mail', 'v1.x', 'dead', 8, 0, 0)",
  );
}

const ids = async (h: Harness, table: string, column = "id") =>
  (await h.query<{ id: string }>(`SELECT ${column} AS id FROM ${table} ORDER BY ${column}`)).map((row) => row.id);

describe("sweep of expired rows", () => {
  it("the poller deletes rows past their expiry and keeps live ones", async () => {
    const h = await harness({ outbox: { pollIntervalMs: 20 } }, { layer: TestContext.TestContext });
    await seed(h, 60_000, 30 * day);
    await h.auth.runtime.runPromise(TestClock.adjust("8 days"));
    // Rows written just now stay.
    const now = 8 * day;
    await h.query("INSERT INTO auth_rate_limit (bucket, at) VALUES ('login:ip:2', ?)", now - 1_000);
    await h.query(
      "INSERT INTO auth_outbox (id, kind, topic, payload, status, attempts, next_attempt_at, created_at, delivered_at) VALUES ('new-outbox', 'mail', 'mail', '{}', 'delivered', 1, ?, ?, ?)",
      now,
      now,
      now,
    );
    await vi.waitFor(async () => expect(await ids(h, "auth_session")).toEqual(["live-session"]), { timeout: 5_000, interval: 50 });
    expect(await ids(h, "auth_flow")).toEqual(["live-flow"]);
    expect(await ids(h, "auth_verification")).toEqual(["live-verification"]);
    expect(await ids(h, "auth_social_state", "digest")).toEqual(["live-state"]);
    expect(await ids(h, "auth_rate_limit", "bucket")).toEqual(["login:ip:2"]);
    expect(await ids(h, "auth_outbox")).toEqual(["dead-outbox", "new-outbox"]);
    await h.close();
  });

  it("before their expiry nothing is deleted", async () => {
    const h = await harness({ outbox: { pollIntervalMs: 20 } }, { layer: TestContext.TestContext });
    await seed(h, 60_000, 30 * day);
    await h.auth.runtime.runPromise(TestClock.adjust("59 seconds"));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await h.count("auth_session")).toBe(2);
    expect(await h.count("auth_flow")).toBe(3);
    expect(await h.count("auth_verification")).toBe(2);
    expect(await h.count("auth_social_state")).toBe(2);
    expect(await h.count("auth_rate_limit")).toBe(1);
    expect(await h.count("auth_outbox")).toBe(2);
    await h.close();
  });
});
