/**
 * What the social flows' actors share: storing an account (and, with `storeTokens`, its tokens
 * sealed), creating a user from a social login (allauth's `save_user` and `setup_user_email`),
 * and a username for a signup that needs one (allauth's `populate_username`).
 */
import { Clock, Effect } from "effect";
import type { CreateSocialUserInput, CreateSocialUserOutput } from "../../machines/social-contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { cleanUsername } from "../domain/username.ts";
import { fail } from "../errors.ts";
import { unusablePasswordPrefix } from "../services/password-hasher.ts";
import { Tokens } from "../services/tokens.ts";
import type { SocialProfile } from "../social/types.ts";
import { mergeTokens, openTokens, sealTokens } from "../social/token-box.ts";
import { lockKey } from "../storage/locks.ts";
import {
  findSocialAccount,
  insertSocialAccount,
  readSocialTokens,
  saveSocialTokens,
  toSocialAccountRef,
} from "../storage/social.ts";
import type { EmailAddressRow } from "../storage/users.ts";
import {
  findUserById,
  findUserByUsername,
  insertEmailAddress,
  insertUser,
  listEmailAddresses,
  toEmailAddressRef,
  toUserRef,
} from "../storage/users.ts";
import { dropClaims, isAddressHeld } from "./email-claims.ts";

/** Keeps the login's tokens (sealed) when `storeTokens` is on; a renewal without a refresh token keeps the old one. */
export const keepTokens = (config: ResolvedConfig, accountId: string, profile: SocialProfile) =>
  Effect.gen(function* () {
    if (!config.socialaccount.storeTokens || profile.tokens === null) {
      return;
    }
    const previous = yield* readSocialTokens(accountId);
    const opened = previous === null ? null : openTokens(config.secret, previous.sealed);
    const tokens = mergeTokens(opened, profile.tokens);
    yield* saveSocialTokens(accountId, sealTokens(config.secret, tokens), tokens.expiresAt);
  });

/** Stores the social account for `userId` (a concurrent connect of the same account: `connected_other`). */
export const storeSocialAccount = (config: ResolvedConfig, userId: string, profile: SocialProfile) =>
  Effect.gen(function* () {
    const tokens = yield* Tokens;
    const now = yield* Clock.currentTimeMillis;
    yield* lockKey(`social:${profile.provider}:${profile.uid}`);
    const existing = yield* findSocialAccount(profile.provider, profile.uid);
    if (existing !== null) {
      return yield* fail("connected_other");
    }
    const row = {
      id: tokens.id(),
      user_id: userId,
      provider: profile.provider,
      uid: profile.uid,
      extra_data: JSON.stringify(profile.extraData),
      date_joined: now,
      last_login: now,
    };
    yield* insertSocialAccount(row);
    yield* keepTokens(config, row.id, profile);
    return toSocialAccountRef(row);
  });

/** Whether the user has a verified address. */
export const hasVerifiedAddress = (userId: string) =>
  Effect.map(listEmailAddresses(userId), (rows) => rows.some((row) => Number(row.verified) === 1));

/**
 * A free username for a social signup that needs one (allauth's `populate_username`): the
 * provider's, else the address's local part, else "user", cleaned, with a number appended until
 * it is free.
 */
export const freeUsername = (config: ResolvedConfig, wanted: string | null, email: string | null) =>
  Effect.gen(function* () {
    const account = config.account;
    const policy = { minLength: account.usernameMinLength, maxLength: account.usernameMaxLength, blacklist: account.usernameBlacklist };
    const base = (wanted ?? email?.split("@")[0] ?? "user").replace(/[^A-Za-z0-9@.+_-]/g, "").slice(0, Math.max(1, policy.maxLength - 4)) || "user";
    for (let n = 0; n < 1000; n++) {
      const candidate = n === 0 ? base : `${base}${n}`;
      const cleaned = cleanUsername(candidate, policy);
      if (typeof cleaned === "string" && (yield* findUserByUsername(cleaned)) === null) {
        return cleaned;
      }
    }
    return yield* fail("username_taken", "username");
  });

/**
 * Creates the user of a social signup: an unusable password, the signup address as primary
 * (verified when the provider says so), the provider's other addresses that no account holds (a
 * claim does not hold one), and the social account. Other accounts' claims on the addresses the
 * provider verified are deleted (SECURITY.md EM-09, OA-09), as a code or link would delete them.
 * Never `social_account_added`: the caller emits `user_signed_up`.
 */
export const createSocialUser = (config: ResolvedConfig, profile: SocialProfile, input: CreateSocialUserInput) =>
  Effect.gen(function* () {
    const tokens = yield* Tokens;
    const now = yield* Clock.currentTimeMillis;
    const email = input.email === null ? null : cleanEmail(input.email, config.account.emailMaxLength);
    if (email !== null) {
      yield* lockKey(`email:${email}`);
    }
    if (input.username !== null) {
      yield* lockKey(`username:${input.username.toLowerCase()}`);
      if ((yield* findUserByUsername(input.username)) !== null) {
        return yield* fail("username_taken", "username");
      }
    }
    // A claim on the address (SECURITY.md EM-09) does not make it taken.
    if (email !== null && config.account.uniqueEmail && (yield* isAddressHeld(email))) {
      return yield* fail("email_taken", "email");
    }
    const id = tokens.id();
    const isActive = config.adapter.isNewUserActive({ email, username: input.username });
    const password = `${unusablePasswordPrefix}${tokens.key()}`;
    yield* insertUser({ id, username: input.username, email, password, isActive, dateJoined: now });
    let primary: EmailAddressRow | null = null;
    const said = new Map(profile.emailAddresses.map((a) => [a.email.toLowerCase(), a.verified]));
    if (email !== null) {
      primary = { id: tokens.id(), user_id: id, email, verified: said.get(email.toLowerCase()) === true ? 1 : 0, is_primary: 1 };
      yield* insertEmailAddress(primary);
    }
    for (const other of profile.emailAddresses) {
      const address = cleanEmail(other.email, config.account.emailMaxLength);
      if (address === null || address === email || (yield* isAddressHeld(address))) {
        continue;
      }
      yield* insertEmailAddress({ id: tokens.id(), user_id: id, email: address, verified: other.verified ? 1 : 0, is_primary: 0 });
    }
    // The provider proved these addresses: other accounts' claims on them go, in this transaction.
    for (const row of yield* listEmailAddresses(id)) {
      if (Number(row.verified) === 1) {
        yield* dropClaims(row);
      }
    }
    const account = yield* storeSocialAccount(config, id, profile);
    const user = toUserRef((yield* findUserById(id))!);
    return { user, account, emailAddress: primary === null ? null : toEmailAddressRef(primary) } satisfies CreateSocialUserOutput;
  });
