/**
 * Two instances on one database behave as one: sessions, pending flows and rate limits are
 * shared (the outbox is covered in test/runtime/outbox.test.ts). SQLite file or PostgreSQL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { onPostgres, testDatabase } from "../support/database.ts";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

const open: Array<Harness> = [];
const dirs: Array<string> = [];
afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.close();
  }
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function pair(account: Record<string, unknown>): Promise<[Harness, Harness]> {
  let database: string;
  if (onPostgres) {
    const db = await testDatabase();
    database = db.url;
    const probe = await harness({ database });
    await db.reset((text) => probe.query(text));
    await probe.close();
  } else {
    const dir = mkdtempSync(join(tmpdir(), "authmachines-pair-"));
    dirs.push(dir);
    database = `sqlite:${join(dir, "auth.db")}`;
  }
  const config = { database, account: { loginMethods: ["email"], ...account }, passwordHasher: fastHasher, outbox: { pollIntervalMs: false as const } };
  const a = await harness(config as never);
  const b = await harness(config as never);
  open.push(a, b);
  return [a, b];
}

describe("two instances on one database", () => {
  it("share sessions: logged in through one, authenticated and logged out through the other", async () => {
    const [a, b] = await pair({ emailVerification: "none" });
    const client = a.app();
    expect((await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    const onB = b.app();
    onB.token = client.token;
    expect((await onB.request("GET", "auth/session")).status).toBe(200);
    await onB.request("DELETE", "auth/session");
    expect(b.takeSignals()).toEqual(["user_logged_out"]);
    expect((await client.request("GET", "auth/session")).status).toBe(410);
  });

  it("share pending flows: a login code requested on one is confirmed on the other", async () => {
    const [a, b] = await pair({ emailVerification: "none", loginByCodeEnabled: true });
    await a.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    a.takeMails();
    const client = a.app();
    await client.request("POST", "auth/code/request", { email: "ann@example.com" });
    const code = codeFromMail(a.takeMails()[0]!);
    const onB = b.app();
    onB.token = client.token;
    expect((await onB.request("POST", "auth/code/confirm", { code })).status).toBe(200);
    expect(b.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
  });

  it("share rate limits: failed logins through both count together (TH-12)", async () => {
    const [a, b] = await pair({ emailVerification: "none" });
    await a.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    for (let i = 0; i < 5; i++) {
      await (i % 2 === 0 ? a : b).app().request("POST", "auth/login", { email: "ann@example.com", password: "wrong wrong wrong wrong" });
    }
    const blocked = await b.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(blocked.body.errors[0].code).toBe("too_many_login_attempts");
  });
});
