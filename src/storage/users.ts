/** Users and their email addresses. */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import type { EmailAddressRef, UserRef } from "../../machines/signals.ts";
import { unusablePasswordPrefix } from "../services/password-hasher.ts";

export interface UserRow {
  readonly id: string;
  readonly username: string | null;
  readonly email: string;
  readonly password: string;
  readonly is_active: number;
  readonly last_login: number | null;
  readonly date_joined: number;
}

export interface EmailAddressRow {
  readonly id: string;
  readonly user_id: string;
  readonly email: string;
  readonly verified: number;
  readonly is_primary: number;
}

export function toUserRef(row: UserRow): UserRef {
  return {
    id: row.id,
    username: row.username,
    email: row.email === "" ? null : row.email,
    isActive: Number(row.is_active) === 1,
    hasUsablePassword: !row.password.startsWith(unusablePasswordPrefix),
  };
}

export function toEmailAddressRef(row: EmailAddressRow): EmailAddressRef {
  return {
    id: row.id,
    userId: row.user_id,
    email: row.email,
    verified: Number(row.verified) === 1,
    primary: Number(row.is_primary) === 1,
  };
}

const sqlClient = SqlClient.SqlClient;

export const findUserById = (id: string) =>
  Effect.flatMap(sqlClient, (sql) => sql<UserRow>`SELECT * FROM auth_user WHERE id = ${id}`).pipe(
    Effect.map((rows) => rows[0] ?? null),
    Effect.orDie,
  );

export const findUserByUsername = (username: string) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<UserRow>`SELECT * FROM auth_user WHERE username_lower = ${username.toLowerCase()}`,
  ).pipe(
    Effect.map((rows) => rows[0] ?? null),
    Effect.orDie,
  );

export const insertUser = (user: {
  readonly id: string;
  readonly username: string | null;
  readonly email: string | null;
  readonly password: string;
  readonly isActive: boolean;
  readonly dateJoined: number;
}) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`INSERT INTO auth_user (id, username, username_lower, email, password, is_active, date_joined)
      VALUES (${user.id}, ${user.username}, ${user.username === null ? null : user.username.toLowerCase()},
              ${user.email ?? ""}, ${user.password}, ${user.isActive ? 1 : 0}, ${user.dateJoined})`,
  ).pipe(
    // The row as stored, without reading it back.
    Effect.as<UserRow>({
      id: user.id,
      username: user.username,
      email: user.email ?? "",
      password: user.password,
      is_active: user.isActive ? 1 : 0,
      last_login: null,
      date_joined: user.dateJoined,
    }),
    Effect.orDie,
  );

/**
 * Stamps the user's `last_login` and reads the row back in the same statement: the update locks
 * the row until commit, so what it returns is the row as committed by anyone before (null when
 * there is no such user).
 */
export const setLastLogin = (id: string, at: number) =>
  Effect.flatMap(sqlClient, (sql) => sql<UserRow>`UPDATE auth_user SET last_login = ${at} WHERE id = ${id} RETURNING *`).pipe(
    Effect.map((rows) => rows[0] ?? null),
    Effect.orDie,
  );

export const setUserEmail = (id: string, email: string) =>
  Effect.flatMap(sqlClient, (sql) => sql`UPDATE auth_user SET email = ${email} WHERE id = ${id}`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );

export const findEmailAddresses = (email: string) =>
  Effect.flatMap(sqlClient, (sql) => sql<EmailAddressRow>`SELECT * FROM auth_email_address WHERE email = ${email}`).pipe(
    Effect.orDie,
  );

/** A login's reading of an address: each account holding a row for it, with all its addresses. */
export interface AddressOwner {
  /** The owner's row for the looked-up address. */
  readonly address: EmailAddressRow;
  readonly user: UserRow;
  /** All of the owner's addresses, primary first, then by address (as `listEmailAddresses`). */
  readonly addresses: ReadonlyArray<EmailAddressRow>;
}

/**
 * Every account with a row for `email`, each with its user and all its addresses, in one
 * statement: what a password login needs before and after its check.
 */
export const findAddressOwners = (email: string) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<Record<string, unknown>>`
      SELECT a.id AS match_id, u.id AS u_id, u.username AS u_username, u.email AS u_email, u.password AS u_password,
             u.is_active AS u_is_active, u.last_login AS u_last_login, u.date_joined AS u_date_joined,
             b.id, b.user_id, b.email, b.verified, b.is_primary
      FROM auth_email_address a
      JOIN auth_user u ON u.id = a.user_id
      JOIN auth_email_address b ON b.user_id = a.user_id
      WHERE a.email = ${email}
      ORDER BY a.id, b.is_primary DESC, b.email`,
  ).pipe(
    Effect.map((rows) => {
      const owners = new Map<string, { address: EmailAddressRow | null; user: UserRow; addresses: Array<EmailAddressRow> }>();
      // Values as the driver gives them, as `SELECT *` would.
      for (const row of rows) {
        const address: EmailAddressRow = {
          id: row["id"] as string,
          user_id: row["user_id"] as string,
          email: row["email"] as string,
          verified: row["verified"] as number,
          is_primary: row["is_primary"] as number,
        };
        const matchId = row["match_id"] as string;
        let owner = owners.get(matchId);
        if (owner === undefined) {
          const user: UserRow = {
            id: row["u_id"] as string,
            username: row["u_username"] as string | null,
            email: row["u_email"] as string,
            password: row["u_password"] as string,
            is_active: row["u_is_active"] as number,
            last_login: row["u_last_login"] as number | null,
            date_joined: row["u_date_joined"] as number,
          };
          owner = { address: null, user, addresses: [] };
          owners.set(matchId, owner);
        }
        owner.addresses.push(address);
        if (address.id === matchId) {
          owner.address = address;
        }
      }
      return [...owners.values()].map((owner) => ({ ...owner, address: owner.address! }) satisfies AddressOwner);
    }),
    Effect.orDie,
  );

export const findEmailAddressById = (id: string) =>
  Effect.flatMap(sqlClient, (sql) => sql<EmailAddressRow>`SELECT * FROM auth_email_address WHERE id = ${id}`).pipe(
    Effect.map((rows) => rows[0] ?? null),
    Effect.orDie,
  );

export const listEmailAddresses = (userId: string) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<EmailAddressRow>`SELECT * FROM auth_email_address WHERE user_id = ${userId} ORDER BY is_primary DESC, email`,
  ).pipe(Effect.orDie);

export const insertEmailAddress = (row: EmailAddressRow) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`INSERT INTO auth_email_address (id, user_id, email, verified, is_primary)
      VALUES (${row.id}, ${row.user_id}, ${row.email}, ${row.verified}, ${row.is_primary})`,
  ).pipe(Effect.asVoid, Effect.orDie);

export const updateEmailAddress = (row: EmailAddressRow) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql`UPDATE auth_email_address SET verified = ${row.verified}, is_primary = ${row.is_primary} WHERE id = ${row.id}`,
  ).pipe(Effect.asVoid, Effect.orDie);

export const deleteEmailAddress = (id: string) =>
  Effect.flatMap(sqlClient, (sql) => sql`DELETE FROM auth_email_address WHERE id = ${id}`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );

export const setPassword = (id: string, password: string) =>
  Effect.flatMap(sqlClient, (sql) => sql`UPDATE auth_user SET password = ${password} WHERE id = ${id}`).pipe(
    Effect.asVoid,
    Effect.orDie,
  );

/**
 * Replaces the password only if it is still `expected` (the hash the caller checked): false when
 * another step changed it meanwhile, so two parallel changes cannot both pass the same check.
 */
export const replacePassword = (id: string, expected: string, password: string) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<{ id: string }>`UPDATE auth_user SET password = ${password} WHERE id = ${id} AND password = ${expected} RETURNING id`,
  ).pipe(
    Effect.map((rows) => rows.length === 1),
    Effect.orDie,
  );

export const findUserEmailAddress = (userId: string, email: string) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<EmailAddressRow>`SELECT * FROM auth_email_address WHERE user_id = ${userId} AND email = ${email}`,
  ).pipe(
    Effect.map((rows) => rows[0] ?? null),
    Effect.orDie,
  );

/**
 * The rows of `email` that hold it: an unverified row on an account that also has a verified
 * address is only a claim (SECURITY.md EM-09), and is left out.
 */
export const findHeldEmailAddresses = (email: string) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<EmailAddressRow>`SELECT * FROM auth_email_address a WHERE a.email = ${email} AND NOT (
      a.verified = 0 AND EXISTS (SELECT 1 FROM auth_email_address b WHERE b.user_id = a.user_id AND b.verified = 1))`,
  ).pipe(Effect.orDie);

/** The claims on `email` other than row `keepId`: unverified rows on accounts with a verified address. */
export const findEmailClaims = (email: string, keepId: string) =>
  Effect.flatMap(
    sqlClient,
    (sql) => sql<EmailAddressRow>`SELECT * FROM auth_email_address a WHERE a.email = ${email} AND a.id <> ${keepId}
      AND a.verified = 0 AND EXISTS (SELECT 1 FROM auth_email_address b WHERE b.user_id = a.user_id AND b.verified = 1)`,
  ).pipe(Effect.orDie);
