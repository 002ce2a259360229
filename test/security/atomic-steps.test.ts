/**
 * A step's writes commit together or not at all (SECURITY.md DD-01): a password reset whose
 * transaction fails after its key is consumed — at the password's update, or later at the
 * sessions' deletion (a database trigger injects the failure), or in an in-step receiver — leaves
 * the old password, the key, the other sessions and the outbox as they were; the same key then
 * resets the password once. Runs on SQLite and PostgreSQL.
 */
import { afterEach, describe, expect, it } from "vitest";
import { onPostgres } from "../support/database.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher, login } from "../http/support.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/** Makes every `event` on `table` fail inside the transaction (a trigger), until `heal` is called. */
async function injectFailure(event: "DELETE" | "UPDATE OF password", table: string): Promise<() => Promise<void>> {
  if (onPostgres) {
    await h.query("CREATE OR REPLACE FUNCTION am_injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$");
    await h.query(`CREATE TRIGGER am_injected BEFORE ${event} ON ${table} FOR EACH ROW EXECUTE FUNCTION am_injected_failure()`);
    return async () => void (await h.query(`DROP TRIGGER am_injected ON ${table}`));
  }
  await h.query(`CREATE TRIGGER am_injected BEFORE ${event} ON ${table} BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
  return async () => void (await h.query("DROP TRIGGER am_injected"));
}

describe("a password reset that fails mid-transaction (DD-01)", () => {
  it("changes nothing: old password, key, other sessions and outbox intact; the key then works once", async () => {
    const reports: Array<string> = [];
    h = await harness(
      { account: { loginMethods: ["email"], emailVerification: "none", emailNotifications: true }, passwordHasher: fastHasher, outbox: { pollIntervalMs: false } },
      { report: (message) => void reports.push(message) },
    );
    const owner = h.app();
    expect((await owner.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    await h.app().request("POST", "auth/password/request", { email: "ann@example.com" });
    const key = decodeURIComponent(/password\/reset\/key\/(\S+)/.exec(h.takeMails().at(-1)!.text)![1]!);
    h.takeSignals();
    const outbox = await h.count("auth_outbox");
    const snapshot = () => h.query("SELECT id, password FROM auth_user UNION ALL SELECT id, CAST(used_at AS TEXT) FROM auth_verification ORDER BY 1");
    const before = await snapshot();

    const faults: Array<() => Promise<() => Promise<void>>> = [
      () => injectFailure("UPDATE OF password", "auth_user"),
      () => injectFailure("DELETE", "auth_session"),
    ];
    for (const fault of faults) {
      const heal = await fault();
      const res = await h.app().request("POST", "auth/password/reset", { key, password: "the new passphrase 99" });
      await heal();
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ status: 500 });
    }
    // A receiver that throws inside the step: the same rollback.
    const off = h.auth.signals.on("password_reset", () => {
      throw new Error("receiver failed");
    });
    expect((await h.app().request("POST", "auth/password/reset", { key, password: "the new passphrase 99" })).status).toBe(500);
    off();
    h.takeSignals(); // the rolled-back step's emission, seen by the harness before the receiver threw

    expect(reports).toHaveLength(3);
    expect(await snapshot()).toEqual(before);
    expect(await h.count("auth_outbox")).toBe(outbox);
    expect(h.takeMails()).toEqual([]);
    expect((await owner.request("GET", "auth/session")).status).toBe(200);
    // (No login with the old password here: a login changes last_login, which ends a reset link.)

    const done = await h.app().request("POST", "auth/password/reset", { key, password: "the new passphrase 99" });
    expect(done.status).toBe(401);
    expect(h.takeSignals()).toEqual(["password_reset"]);
    // The reset ended the other sessions: the app token names none now.
    expect((await owner.request("GET", "auth/session")).status).toBe(410);
    expect((await h.app().request("POST", "auth/password/reset", { key, password: "yet another passphrase 1" })).status).toBe(400);
    expect((await login(h.app(), { email: "ann@example.com", password: "the new passphrase 99" })).status).toBe(200);
  });
});
