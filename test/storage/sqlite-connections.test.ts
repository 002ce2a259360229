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

describe("SQLite with several connections (one file, four instances)", () => {
  it("50 parallel signups with one email across the connections create one user and one user_signed_up", async () => {
    const database = `sqlite:${join(dir, "auth.db")}`;
    const config = { database, account: { loginMethods: ["email"] as const, emailVerification: "mandatory" as const }, passwordHasher: fastHasher };
    const instances: Array<Harness> = [];
    for (let i = 0; i < 4; i++) {
      instances.push(await harness(config));
    }
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        instances[i % 4]!.app().request("POST", "auth/signup", { email: "race@example.com", password: goodPassword }),
      ),
    );
    expect(responses.filter((r) => r.status !== 401).map((r) => JSON.stringify(r.body)).slice(0, 2)).toEqual([]);
    expect(await instances[0]!.count("auth_user")).toBe(1);
    expect(instances.flatMap((h) => h.signals).filter((s) => s.type === "user_signed_up")).toHaveLength(1);
    for (const h of instances) {
      await h.close();
    }
  });
});
