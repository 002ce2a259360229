/**
 * ALLAUTH-ERRORS.md §23, GET / DELETE auth/sessions (with `usersessions`), for the app and the
 * browser client: 401 for nobody, and the `sessions` errors of Django's
 * ModelMultipleChoiceField: required, invalid_list, invalid_pk_value, invalid_choice.
 */
import { afterEach, describe, expect, it } from "vitest";
import { fastHasher } from "../http/support.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { clients, client, err, expectAllauthErrors, text, withoutWrites } from "./support.ts";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

const end = (c: Client, body: unknown) => c.request("DELETE", "auth/sessions", body);

describe.each(clients)("auth/sessions (%s client)", (kind) => {
  let mine: Client;
  let otherId: number;
  let foreignId: number;

  /** Ann in two sessions (this client and another), Bob in one. */
  async function open(): Promise<void> {
    h = await harness({ passwordHasher: fastHasher, usersessions: true, account: { loginMethods: ["email"], emailVerification: "none" } });
    mine = client(h, kind);
    expect((await mine.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    const second = h.app();
    expect((await second.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    const bob = h.app();
    expect((await bob.request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();
    otherId = ((await mine.request("GET", "auth/sessions")).body.data as Array<{ id: number; is_current: boolean }>).find(
      (s) => !s.is_current,
    )!.id;
    foreignId = ((await bob.request("GET", "auth/sessions")).body.data as Array<{ id: number }>)[0]!.id;
  }

  it("401 for nobody, GET and DELETE", async () => {
    h = await harness({ passwordHasher: fastHasher, usersessions: true, account: { loginMethods: ["email"], emailVerification: "none" } });
    const c = client(h, kind);
    expect((await withoutWrites(h, () => c.request("GET", "auth/sessions"))).status).toBe(401);
    const res = await withoutWrites(h, () => end(c, { sessions: [1] }));
    expect(res.status).toBe(401);
    expect(res.body).not.toHaveProperty("errors");
  });

  it("400 required for a missing, null or empty list", async () => {
    await open();
    for (const body of [{}, { sessions: null }, { sessions: [] }]) {
      expectAllauthErrors(await withoutWrites(h, () => end(mine, body)), [err("required", text.required, "sessions")]);
    }
  });

  it("400 invalid_list for what is not a list", async () => {
    await open();
    for (const sessions of [otherId, String(otherId), { id: otherId }]) {
      expectAllauthErrors(await withoutWrites(h, () => end(mine, { sessions })), [
        err("invalid_list", "Enter a list of values.", "sessions"),
      ]);
    }
  });

  it("400 invalid_pk_value for a value that is no id at all", async () => {
    await open();
    expectAllauthErrors(await withoutWrites(h, () => end(mine, { sessions: [otherId, "abc"] })), [
      err("invalid_pk_value", "\u201cabc\u201d is not a valid value.", "sessions"),
    ]);
  });

  it("400 invalid_choice for an id that is not one of the user's sessions (another user's included)", async () => {
    await open();
    expectAllauthErrors(await withoutWrites(h, () => end(mine, { sessions: [otherId, foreignId] })), [
      err("invalid_choice", `Select a valid choice. ${foreignId} is not one of the available choices.`, "sessions"),
    ]);
  });

  it("200 with the remaining sessions; 401 when the current session itself was ended", async () => {
    await open();
    const res = await end(mine, { sessions: [otherId] });
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    const current = (res.body.data as Array<{ id: number }>)[0]!.id;
    const out = await end(mine, { sessions: [current] });
    expect(out.status).toBe(401);
    expect(out.body).not.toHaveProperty("errors");
  });
});
