/**
 * Social accounts (allauth's `SocialAccount`), their sealed tokens (`SocialToken`, only with
 * `storeTokens`) and the redirect states in flight. Rows hold what the caller gives: tokens and
 * PKCE verifiers arrive sealed (`src/social/token-box.ts`), states as a digest.
 */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import type { SocialAccountRef } from "../../machines/signals.ts";

export interface SocialAccountRow {
  readonly id: string;
  readonly user_id: string;
  readonly provider: string;
  readonly uid: string;
  /** The provider's raw user data, as JSON. */
  readonly extra_data: string;
  readonly date_joined: number;
  readonly last_login: number;
}

export interface SocialTokenRow {
  readonly account_id: string;
  readonly sealed: string;
  readonly expires_at: number | null;
}

/** A redirect in flight, keyed by the digest of its `state` parameter. */
export interface RedirectStateRow {
  readonly digest: string;
  readonly session_id: string;
  readonly provider: string;
  readonly process: string;
  readonly next: string;
  readonly user_id: string | null;
  readonly pkce_verifier_sealed: string;
  readonly nonce: string;
  readonly redirect_uri: string;
  readonly created_at: number;
  readonly expires_at: number;
}

export function toSocialAccountRef(row: SocialAccountRow): SocialAccountRef {
  return { id: row.id, provider: row.provider, uid: row.uid, userId: row.user_id };
}

const sqlClient = SqlClient.SqlClient;

/** Times come back as numbers on both databases; this keeps it so whatever the driver does. */
const accountRow = (row: SocialAccountRow): SocialAccountRow => ({
  ...row,
  date_joined: Number(row.date_joined),
  last_login: Number(row.last_login),
});

const first = <A>(rows: ReadonlyArray<A>): A | null => rows[0] ?? null;

export const findSocialAccount = (provider: string, uid: string) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<SocialAccountRow>`SELECT * FROM auth_social_account WHERE provider = ${provider} AND uid = ${uid}`,
  ).pipe(
    Effect.map((rows) => first(rows.map(accountRow))),
    Effect.orDie,
  );

export const findSocialAccountById = (id: string) =>
  Effect.flatMap(sqlClient, (sql) => sql<SocialAccountRow>`SELECT * FROM auth_social_account WHERE id = ${id}`).pipe(
    Effect.map((rows) => first(rows.map(accountRow))),
    Effect.orDie,
  );

/** A user's accounts, oldest first (allauth lists them in insertion order). */
export const listSocialAccounts = (userId: string) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<SocialAccountRow>`SELECT * FROM auth_social_account WHERE user_id = ${userId} ORDER BY date_joined, id`,
  ).pipe(
    Effect.map((rows) => rows.map(accountRow)),
    Effect.orDie,
  );

/** Dies on a second (provider, uid): the caller looks up first, inside the same step. */
export const insertSocialAccount = (row: SocialAccountRow) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`INSERT INTO auth_social_account (id, user_id, provider, uid, extra_data, date_joined, last_login)
      VALUES (${row.id}, ${row.user_id}, ${row.provider}, ${row.uid}, ${row.extra_data}, ${row.date_joined}, ${row.last_login})`,
  ).pipe(Effect.asVoid, Effect.orDie);

/** allauth's lookup of a known account: the provider's new data and the login time. */
export const updateSocialAccountData = (id: string, extraData: string, lastLogin: number) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`UPDATE auth_social_account SET extra_data = ${extraData}, last_login = ${lastLogin} WHERE id = ${id}`,
  ).pipe(Effect.asVoid, Effect.orDie);

/** Whether a row went (its tokens go with it). */
export const deleteSocialAccount = (id: string) =>
  Effect.flatMap(sqlClient, (sql) => sql<{ id: string }>`DELETE FROM auth_social_account WHERE id = ${id} RETURNING id`).pipe(
    Effect.map((rows) => rows.length > 0),
    Effect.orDie,
  );

/** Replaces the account's sealed tokens (allauth keeps one token per account and app). */
export const saveSocialTokens = (accountId: string, sealed: string, expiresAt: number | null) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`INSERT INTO auth_social_token (account_id, sealed, expires_at) VALUES (${accountId}, ${sealed}, ${expiresAt})
      ON CONFLICT (account_id) DO UPDATE SET sealed = excluded.sealed, expires_at = excluded.expires_at`,
  ).pipe(Effect.asVoid, Effect.orDie);

export const readSocialTokens = (accountId: string) =>
  Effect.flatMap(sqlClient, (sql) => sql<SocialTokenRow>`SELECT * FROM auth_social_token WHERE account_id = ${accountId}`).pipe(
    Effect.map((rows) => {
      const row = first(rows);
      return row === null ? null : { ...row, expires_at: row.expires_at === null ? null : Number(row.expires_at) };
    }),
    Effect.orDie,
  );

export const insertRedirectState = (row: RedirectStateRow) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`INSERT INTO auth_social_state
      (digest, session_id, provider, process, next, user_id, pkce_verifier_sealed, nonce, redirect_uri, created_at, expires_at)
      VALUES (${row.digest}, ${row.session_id}, ${row.provider}, ${row.process}, ${row.next}, ${row.user_id},
              ${row.pkce_verifier_sealed}, ${row.nonce}, ${row.redirect_uri}, ${row.created_at}, ${row.expires_at})`,
  ).pipe(Effect.asVoid, Effect.orDie);

/**
 * Takes a redirect state once: one `DELETE … RETURNING`, so of any number of parallel callbacks
 * carrying the same `state` exactly one gets the row. An expired row is taken too, and answers
 * null like a missing one. The caller still checks the session, provider and process binding.
 */
export const takeRedirectState = (digest: string, now: number) =>
  Effect.flatMap(sqlClient, (sql) => sql<RedirectStateRow>`DELETE FROM auth_social_state WHERE digest = ${digest} RETURNING *`).pipe(
    Effect.map((rows) => {
      const row = first(rows);
      if (row === null || Number(row.expires_at) <= now) {
        return null;
      }
      return { ...row, created_at: Number(row.created_at), expires_at: Number(row.expires_at) };
    }),
    Effect.orDie,
  );

/** Drops the states that expired unused; returns how many went. */
export const sweepRedirectStates = (now: number) =>
  Effect.flatMap(sqlClient, (sql) => sql<{ digest: string }>`DELETE FROM auth_social_state WHERE expires_at <= ${now} RETURNING digest`).pipe(
    Effect.map((rows) => rows.length),
    Effect.orDie,
  );
