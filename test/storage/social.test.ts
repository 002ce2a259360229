/**
 * Social accounts, their tokens and redirect states in storage, on SQLite and PostgreSQL (this
 * file runs in both vitest projects): one account per (provider, uid), rows that go with their
 * user, and a redirect state that only one callback can take.
 */
import type { SqlClient } from "@effect/sql";
import type { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RedirectStateRow, SocialAccountRow } from "../../src/storage/social.ts";
import {
  deleteSocialAccount,
  findSocialAccount,
  findSocialAccountById,
  insertRedirectState,
  insertSocialAccount,
  listSocialAccounts,
  readSocialTokens,
  saveSocialTokens,
  sweepRedirectStates,
  takeRedirectState,
  toSocialAccountRef,
  updateSocialAccountData,
} from "../../src/storage/social.ts";
import { insertUser } from "../../src/storage/users.ts";
import { onPostgres } from "../support/database.ts";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.close();
});

const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>): Promise<A> => h.auth.runtime.runPromise(effect as Effect.Effect<A, E, never>);

let ids = 0;
const id = () => `id-${++ids}-${Math.random().toString(36).slice(2)}`;

async function user(): Promise<string> {
  const userId = id();
  await run(insertUser({ id: userId, username: null, email: null, password: "!", isActive: true, dateJoined: 1 }));
  return userId;
}

function account(userId: string, over: Partial<SocialAccountRow> = {}): SocialAccountRow {
  return { id: id(), user_id: userId, provider: "devidp", uid: id(), extra_data: '{"sub":"x"}', date_joined: 100, last_login: 100, ...over };
}

function state(over: Partial<RedirectStateRow> = {}): RedirectStateRow {
  return {
    digest: id(),
    session_id: "session-1",
    provider: "devidp",
    process: "login",
    next: "http://localhost/callback",
    user_id: null,
    pkce_verifier_sealed: "v1.sealed",
    nonce: "nonce-1",
    redirect_uri: "http://localhost/accounts/oidc/devidp/login/callback/",
    created_at: 1000,
    expires_at: 2000,
    ...over,
  };
}

describe(`social storage (${onPostgres ? "PostgreSQL" : "SQLite"})`, () => {
  it("finds an account by (provider, uid) and by id, and refuses a second (provider, uid)", async () => {
    const [ann, bob] = [await user(), await user()];
    const row = account(ann, { uid: "sub-1" });
    await run(insertSocialAccount(row));
    expect(await run(findSocialAccount("devidp", "sub-1"))).toEqual(row);
    expect(await run(findSocialAccountById(row.id))).toEqual(row);
    expect(await run(findSocialAccount("other", "sub-1"))).toBeNull();
    await expect(run(insertSocialAccount(account(bob, { uid: "sub-1" })))).rejects.toBeDefined();
    // The same uid at another provider is another person.
    await run(insertSocialAccount(account(bob, { uid: "sub-1", provider: "github" })));
    expect((await run(findSocialAccount("github", "sub-1")))?.user_id).toBe(bob);
    expect(toSocialAccountRef(row)).toEqual({ id: row.id, provider: "devidp", uid: "sub-1", userId: ann });
  });

  it("lists a user's accounts oldest first, updates data and login time, deletes once", async () => {
    const ann = await user();
    const late = account(ann, { date_joined: 300 });
    const early = account(ann, { date_joined: 200 });
    await run(insertSocialAccount(late));
    await run(insertSocialAccount(early));
    expect((await run(listSocialAccounts(ann))).map((r) => r.id)).toEqual([early.id, late.id]);
    await run(updateSocialAccountData(late.id, '{"sub":"y"}', 999));
    const updated = await run(findSocialAccountById(late.id));
    expect({ data: updated?.extra_data, at: updated?.last_login, joined: updated?.date_joined }).toEqual({ data: '{"sub":"y"}', at: 999, joined: 300 });
    expect(await run(deleteSocialAccount(late.id))).toBe(true);
    expect(await run(deleteSocialAccount(late.id))).toBe(false);
    expect((await run(listSocialAccounts(ann))).map((r) => r.id)).toEqual([early.id]);
  });

  it("keeps one sealed token row per account, replaced on save", async () => {
    const row = account(await user());
    await run(insertSocialAccount(row));
    expect(await run(readSocialTokens(row.id))).toBeNull();
    await run(saveSocialTokens(row.id, "v1.first", 5000));
    await run(saveSocialTokens(row.id, "v1.second", null));
    expect(await run(readSocialTokens(row.id))).toEqual({ account_id: row.id, sealed: "v1.second", expires_at: null });
    await run(saveSocialTokens(row.id, "v1.third", 7000));
    expect(await run(readSocialTokens(row.id))).toEqual({ account_id: row.id, sealed: "v1.third", expires_at: 7000 });
  });

  it("deleting a user deletes their social accounts and tokens", async () => {
    const ann = await user();
    const row = account(ann);
    await run(insertSocialAccount(row));
    await run(saveSocialTokens(row.id, "v1.sealed", null));
    await h.query("DELETE FROM auth_user WHERE id = ?", ann);
    expect(await run(findSocialAccountById(row.id))).toBeNull();
    expect(await run(readSocialTokens(row.id))).toBeNull();
    expect(await h.query("SELECT * FROM auth_social_token WHERE account_id = ?", row.id)).toEqual([]);
  });

  it("deleting an account deletes its tokens", async () => {
    const row = account(await user());
    await run(insertSocialAccount(row));
    await run(saveSocialTokens(row.id, "v1.sealed", null));
    await run(deleteSocialAccount(row.id));
    expect(await run(readSocialTokens(row.id))).toBeNull();
  });

  it("lets exactly one of ten parallel callbacks take a redirect state, and returns it whole", async () => {
    const row = state({ user_id: "user-1", process: "connect" });
    await run(insertRedirectState(row));
    const taken = await Promise.all(Array.from({ length: 10 }, () => run(takeRedirectState(row.digest, 1500))));
    expect(taken.filter((t) => t !== null)).toEqual([row]);
    expect(await run(takeRedirectState(row.digest, 1500))).toBeNull();
  });

  it("answers null for a missing or expired state, and takes the expired one away", async () => {
    expect(await run(takeRedirectState("no-such-digest", 1500))).toBeNull();
    const row = state();
    await run(insertRedirectState(row));
    expect(await run(takeRedirectState(row.digest, 2000))).toBeNull();
    expect(await h.query("SELECT digest FROM auth_social_state WHERE digest = ?", row.digest)).toEqual([]);
  });

  it("sweeps only the expired states", async () => {
    await h.query("DELETE FROM auth_social_state");
    const [old, live] = [state({ expires_at: 3000 }), state({ expires_at: 3001 })];
    await run(insertRedirectState(old));
    await run(insertRedirectState(live));
    expect(await run(sweepRedirectStates(3000))).toBe(1);
    expect((await h.query<{ digest: string }>("SELECT digest FROM auth_social_state")).map((r) => r.digest)).toEqual([live.digest]);
  });
});
