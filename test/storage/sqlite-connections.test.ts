import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "authmachines-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Four instances, each with its own connection, on one database. */
async function fourInstances(config: Parameters<typeof harness>[0]): Promise<Array<Harness>> {
  const instances: Array<Harness> = [];
  for (let i = 0; i < 4; i++) {
    instances.push(await harness(config));
  }
  return instances;
}

/** SECURITY.md CC-09: write transactions on several connections to one file never surface SQLITE_BUSY. */
describe("SQLite with several connections (one file, four instances)", () => {
  it("50 parallel signups with one email across the connections create one user and one user_signed_up (CC-09)", async () => {
    const database = `sqlite:${join(dir, "auth.db")}`;
    const config = { database, account: { loginMethods: ["email"] as const, emailVerification: "mandatory" as const }, passwordHasher: fastHasher };
    const instances = await fourInstances(config);
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        instances[i % 4]!.app().request("POST", "auth/signup", { email: "race@example.com", password: goodPassword }),
      ),
    );
    expect(responses.filter((r) => r.status !== 401).map((r) => JSON.stringify(r.body)).slice(0, 2)).toEqual([]);
    expect(await instances[0]!.count("auth_user")).toBe(1);
    expect(instances.flatMap((h) => h.signals).filter((s) => s.type === "user_signed_up")).toHaveLength(1);
    await Promise.all(instances.map((h) => h.close()));
  });
  it("50 parallel signups with 50 addresses across the connections all complete: 50 users, no SQLITE_BUSY (CC-09)", async () => {
    const database = `sqlite:${join(dir, "auth.db")}`;
    const config = { database, account: { loginMethods: ["email"] as const, emailVerification: "none" as const }, passwordHasher: fastHasher };
    const instances = await fourInstances(config);
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        instances[i % 4]!.app().request("POST", "auth/signup", { email: `user${i}@example.com`, password: goodPassword }),
      ),
    );
    expect(responses.filter((r) => r.status !== 200).map((r) => JSON.stringify(r.body)).slice(0, 2)).toEqual([]);
    expect(await instances[0]!.count("auth_user")).toBe(50);
    expect(await instances[0]!.count("auth_session")).toBe(50);
    await Promise.all(instances.map((h) => h.close()));
  });
});
