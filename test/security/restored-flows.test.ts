/**
 * Restoring a persisted flow repeats none of its side effects (SECURITY.md DD-07). A flow is
 * persisted only at rest — no invoked actor in flight — and its mail is an outbox row written
 * with the step, so a restore re-runs no entry action and sends nothing: requests that resume a
 * pending login by code mail nothing new, move no counter but the wrong code's, and the code of
 * the one mail still logs in.
 */
import { afterEach, describe, expect, it } from "vitest";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher, loginCodeRequested } from "../http/support.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("a restored login-by-code flow (DD-07)", () => {
  it("is stored with no actor in flight, and its restores send no mail and keep the code and counters", async () => {
    h = await harness({ account: { loginMethods: ["email"], emailVerification: "none", loginByCodeEnabled: true }, passwordHasher: fastHasher });
    const { client, code } = await loginCodeRequested(h);
    const [row] = await h.query<{ snapshot: string; attempts: number; resends: number }>("SELECT snapshot, attempts, resends FROM auth_flow");
    expect(JSON.parse(row!.snapshot).children).toEqual({});
    const outbox = await h.count("auth_outbox");

    // Each of these restores the flow from its row.
    for (let i = 0; i < 3; i++) {
      expect((await client.request("GET", "auth/session")).status).toBe(401);
    }
    const wrong = code === "BCDF-GHJK" ? "BCDF-GHJL" : "BCDF-GHJK";
    expect((await client.request("POST", "auth/code/confirm", { code: wrong })).status).toBe(400);
    expect(h.takeMails()).toEqual([]);
    expect(await h.count("auth_outbox")).toBe(outbox);
    const [after] = await h.query<{ attempts: number; resends: number }>("SELECT attempts, resends FROM auth_flow");
    expect([Number(after!.attempts), Number(after!.resends)]).toEqual([Number(row!.attempts) + 1, Number(row!.resends)]);
    expect(h.takeSignals()).toEqual([]);

    expect((await client.request("POST", "auth/code/confirm", { code })).status).toBe(200);
    expect(h.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
    expect(h.takeMails().filter((m) => m.text.includes(code))).toEqual([]);
  });
});
