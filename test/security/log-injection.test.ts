/**
 * Nothing a client sends reaches the library's own log lines (SECURITY.md LG-06). The library
 * logs only through `report(message, error)`, with messages of its own and server-made ids; an
 * address with a line break is refused before anything is written or mailed (and so before the
 * "console" mailer could print it). Requests carrying a forged log line in every field and header
 * — including one whose step fails in a receiver — report single-line messages without it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const forged = "\nFAKE LOG LINE level=info user=admin";

describe("log injection (LG-06)", () => {
  it("no reported message carries client text, and each is one line", async () => {
    const reports: Array<{ message: string; error: unknown }> = [];
    h = await harness(
      { account: { loginMethods: ["email"], emailVerification: "mandatory" }, passwordHasher: fastHasher },
      { report: (message, error) => void reports.push({ message, error }) },
    );
    // Header values cannot hold a line break at all (Fetch refuses it); their text must not show.
    const headers = { "user-agent": `vitest ${forged.trim()}`, "x-forwarded-for": `10.0.0.1 ${forged.trim()}` };
    for (const email of [`a@b.c${forged}`, `a@b.c\r${forged}`, `a@b.c${encodeURIComponent(forged)}`]) {
      for (const path of ["auth/signup", "auth/login", "auth/password/request", "auth/code/request"]) {
        const res = await h.app().request("POST", path, { email, password: goodPassword }, headers);
        expect(res.status, `${path} ${JSON.stringify(email)}`).toBeLessThan(500);
      }
    }
    expect(await h.count("auth_user")).toBe(0);
    expect(h.takeMails()).toEqual([]);
    // A step that fails: the report names the failure, not the request's text.
    const off = h.auth.signals.on("user_signed_up", () => {
      throw new Error("receiver failed");
    });
    expect((await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword }, headers)).status).toBe(500);
    off();
    expect(reports.length).toBeGreaterThan(0);
    for (const { message, error } of reports) {
      expect(message).not.toMatch(/[\r\n]/);
      expect(`${message} ${String(error)}`).not.toContain("FAKE LOG LINE");
    }
  });
});
