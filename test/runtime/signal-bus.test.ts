import { describe, expect, it } from "vitest";
import { main as runDirectly } from "../../examples/run-machine-directly.ts";
import { goodPassword, harness } from "../support/harness.ts";

const mandatory = { account: { loginMethods: ["email"] as const, emailVerification: "mandatory" as const } };

describe("auth.signals", () => {
  it("runs receivers in emission order, then subscription order, each awaited", async () => {
    const h = await harness(mandatory);
    const order: Array<string> = [];
    h.auth.signals.on("email_confirmation_sent", () => void order.push("sent:first"));
    h.auth.signals.on("user_signed_up", async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push("signed_up:first");
    });
    h.auth.signals.on("user_signed_up", () => void order.push("signed_up:second"));
    h.auth.signals.on("email_confirmation_sent", () => void order.push("sent:second"));
    const response = await h.browser().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(response.status).toBe(401);
    expect(order).toEqual(["signed_up:first", "signed_up:second", "sent:first", "sent:second"]);
    await h.close();
  });

  it("rolls back everything the step wrote and sends no mail when a receiver throws", async () => {
    const h = await harness(mandatory);
    const before = {
      users: await h.count("auth_user"),
      addresses: await h.count("auth_email_address"),
      verifications: await h.count("auth_verification"),
      sessions: await h.count("auth_session"),
    };
    const later: Array<string> = [];
    h.auth.signals.on("user_signed_up", () => {
      throw new Error("veto");
    });
    h.auth.signals.on("email_confirmation_sent", () => void later.push("ran"));
    h.auth.signals.after("user_signed_up", () => void later.push("after"));
    const response = await h.browser().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(response.status).toBe(500);
    expect(JSON.stringify(response.body)).not.toContain("veto");
    expect({
      users: await h.count("auth_user"),
      addresses: await h.count("auth_email_address"),
      verifications: await h.count("auth_verification"),
      sessions: await h.count("auth_session"),
    }).toEqual(before);
    expect(h.mails).toHaveLength(0);
    expect(later).toEqual([]);
    await h.close();
  });

  it("lets the same signup succeed once the throwing receiver is disconnected", async () => {
    const h = await harness(mandatory);
    const off = h.auth.signals.on("user_signed_up", () => {
      throw new Error("veto");
    });
    const client = h.browser();
    expect((await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(500);
    off();
    h.takeSignals();
    expect((await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(401);
    expect(h.takeSignals()).toEqual(["user_signed_up", "email_confirmation_sent"]);
    expect(await h.count("auth_user")).toBe(1);
    expect(h.mails).toHaveLength(1);
    await h.close();
  });

  it("gives user_logged_in receivers the response and the logged-in request, after-receivers run after commit", async () => {
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" } });
    const seen: Array<unknown> = [];
    h.auth.signals.on("user_signed_up", ({ request }) => void seen.push(["signed_up", request.user]));
    h.auth.signals.on("user_logged_in", ({ request, response, user }) =>
      void seen.push(["logged_in", request.user?.id === user.id, response?.status]),
    );
    h.auth.signals.after("user_logged_in", async ({ user }) => {
      const rows = await h.query<{ id: string }>("SELECT id FROM auth_user WHERE id = ?", user.id);
      seen.push(["after", rows.length]);
    });
    const response = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(response.status).toBe(200);
    expect(seen).toEqual([["signed_up", null], ["logged_in", true, 200], ["after", 1]]);
    await h.close();
  });

  it("is fed by the actors' own events, the same a direct createActor user subscribes to", async () => {
    expect(await runDirectly()).toEqual(["user_signed_up", "user_logged_in"]);
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" } });
    await h.app().request("POST", "auth/signup", { email: "ada@example.com", password: goodPassword });
    expect(h.takeSignals()).toEqual(["user_signed_up", "user_logged_in"]);
    await h.close();
  });
});

describe("inspection", () => {
  it("shows every flow actor of a step to the configured inspector", async () => {
    const events: Array<string> = [];
    const h = await harness(
      { account: { loginMethods: ["email"], emailVerification: "none" } },
      { inspect: (event) => void events.push(event.type) },
    );
    await h.app().request("POST", "auth/signup", { email: "ada@example.com", password: goodPassword });
    expect(events).toContain("@xstate.actor");
    expect(events).toContain("@xstate.snapshot");
    expect(events.filter((e) => e === "@xstate.actor").length).toBeGreaterThanOrEqual(4);
    await h.close();
  });
});
