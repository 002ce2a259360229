import { describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import { fastHasher } from "./support.ts";

const config = {
  account: { loginMethods: ["email"] as const, emailVerification: "none" as const },
  passwordHasher: fastHasher,
  usersessions: true,
};

describe("auth/sessions", () => {
  it("lists the user's sessions with integer ids and marks the current one", async () => {
    const h = await harness(config);
    const browser = h.browser();
    await browser.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    const app = h.app();
    await app.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    const listed = await browser.request("GET", "auth/sessions");
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(2);
    for (const session of listed.body.data) {
      expect(Number.isSafeInteger(session.id)).toBe(true);
      expect(session).toMatchObject({ user_agent: "vitest", ip: expect.any(String), created_at: expect.any(Number) });
    }
    expect(listed.body.data.filter((s: { is_current: boolean }) => s.is_current)).toHaveLength(1);
    await h.close();
  });

  it("ends another session silently, and ending the current one is a logout with user_logged_out", async () => {
    const h = await harness(config);
    const browser = h.browser();
    await browser.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    const app = h.app();
    await app.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();
    const listed = (await browser.request("GET", "auth/sessions")).body.data as Array<{ id: number; is_current: boolean }>;
    const other = listed.find((s) => !s.is_current)!;
    const current = listed.find((s) => s.is_current)!;

    const ended = await browser.request("DELETE", "auth/sessions", { sessions: [other.id] });
    expect(ended.status).toBe(200);
    expect(ended.body.data.map((s: { id: number }) => s.id)).toEqual([current.id]);
    expect(h.takeSignals()).toEqual([]);
    expect((await app.request("GET", "auth/session")).status).toBe(410);

    const out = await browser.request("DELETE", "auth/sessions", { sessions: [current.id] });
    expect(out.status).toBe(401);
    const recorded = h.signals.splice(0);
    expect(recorded.map((s) => s.type)).toEqual(["user_logged_out"]);
    expect(recorded[0]!.request.user?.email).toBe("ann@example.com");
    expect(await h.count("auth_session")).toBe(0);
    await h.close();
  });

  it("cannot end another user's session", async () => {
    const h = await harness(config);
    const ann = h.app();
    await ann.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    const bob = h.app();
    await bob.request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword });
    const bobs = (await bob.request("GET", "auth/sessions")).body.data as Array<{ id: number }>;
    const response = await ann.request("DELETE", "auth/sessions", { sessions: bobs.map((s) => s.id) });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([
      {
        param: "sessions",
        code: "invalid_choice",
        message: `Select a valid choice. ${bobs[0]!.id} is not one of the available choices.`,
      },
    ]);
    expect((await bob.request("GET", "auth/session")).status).toBe(200);
    await h.close();
  });

  it("refuses bad input and anonymous callers", async () => {
    const h = await harness(config);
    const client = h.app();
    expect((await client.request("GET", "auth/sessions")).status).toBe(401);
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    for (const body of [{ sessions: "1" }, { sessions: [1.5] }, { sessions: ["1"] }, {}, { sessions: [1], extra: 1 }]) {
      const response = await client.request("DELETE", "auth/sessions", body);
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    expect(await h.count("auth_session")).toBe(1);
    await h.close();
  });
});
