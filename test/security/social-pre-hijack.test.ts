/**
 * Pre-account takeover through a social login (SECURITY.md OA-09, its social side; issue #10
 * finding 1; EM-09 for claims), over a real OpenID provider on 127.0.0.1:
 * - the attacker signed up with the victim's address (its only address, unverified) and a
 *   password: the victim's login with a provider that verified the address never lands in that
 *   account and links nothing, with email authentication on, auto-connect on or off; the victim
 *   gets a signup's answer (the provider signup form under optional verification, the hidden
 *   pending verification under mandatory), and the attacker's account, password and sessions
 *   stay as they were;
 * - a provider that does not vouch for an address is never matched to the account that verified
 *   it locally: no login into it, no link;
 * - the attacker's claim on the victim's address (unverified, beside a verified address) does not
 *   make it taken: the victim's social signup goes through, automatic or by the form, and the
 *   claim is deleted in the signup's own transaction;
 * - email authentication by an address that one account verified and another claims logs into
 *   the verified owner.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { keyFromMail } from "../support/harness.ts";
import type { Client, ClientResponse, Harness } from "../support/harness.ts";
import type { IdentityProvider } from "../support/oidc-provider.ts";
import { frontendCallback, providerToken, socialHarness, socialRoundTrip, startProvider } from "../support/social.ts";
import { expectPendingVerification, fastHasher, take } from "../http/support.ts";

const victim = "victim@example.com";
const mallory = "mallory@evil.test";
const attackerPassword = "attacker preset passphrase 77";
const ownerPassword = "the owner's own passphrase 31";

/** At the provider: the victim (address verified there), and a person whose provider does not vouch for it. */
const people = {
  victim: { email: victim, email_verified: true, preferred_username: "victim" },
  unsure: { email: victim, email_verified: false, preferred_username: "unsure" },
};

type Verification = "optional" | "mandatory";
type Kind = "browser" | "app";

let idp: IdentityProvider;
let h: Harness;

beforeAll(async () => {
  idp = await startProvider(people);
});
afterAll(async () => {
  await idp.close();
});
afterEach(async () => {
  await h?.close();
});

async function open(emailVerification: Verification, social: NonNullable<AuthConfig["socialaccount"]> = {}): Promise<Harness> {
  h = await socialHarness(
    idp,
    { account: { loginMethods: ["email"], emailVerification }, passwordHasher: fastHasher },
    { emailAuthentication: true, ...social },
  );
  return h;
}

const subjects = () => h.takeMails().map((m) => [m.to, m.subject]);

type AddressRow = [who: string, email: string, verified: number, primary: number];

const byAddressThenWho = (a: AddressRow, b: AddressRow) => a[1].localeCompare(b[1]) || a[0].localeCompare(b[0]);

/** Every address row as [who, address, verified, primary], `who` named through `names` (user id → name); by address, then who. */
async function addresses(names: Readonly<Record<string, string>>): Promise<Array<AddressRow>> {
  const rows = await h.query<{ user_id: string; email: string; verified: number; is_primary: number }>(
    "SELECT user_id, email, verified, is_primary FROM auth_email_address ORDER BY email, user_id",
  );
  const named = rows.map((r): [string, string, number, number] => [names[r.user_id] ?? `unknown ${r.user_id}`, r.email, Number(r.verified), Number(r.is_primary)]);
  return named.sort(byAddressThenWho);
}

async function socialAccounts(): Promise<Array<[string, string]>> {
  const rows = await h.query<{ user_id: string; uid: string }>("SELECT user_id, uid FROM auth_social_account ORDER BY uid");
  return rows.map((r) => [r.user_id, r.uid]);
}

/** What an account is: its password hash, addresses, sessions, and what its own client's session answers. */
async function accountState(userId: string, client: Client) {
  const [user] = await h.query<{ password: string; email: string }>("SELECT password, email FROM auth_user WHERE id = ?", userId);
  const emails = await h.query<{ email: string; verified: number }>(
    "SELECT email, verified FROM auth_email_address WHERE user_id = ? ORDER BY email",
    userId,
  );
  const sessions = await h.query<{ id: string }>("SELECT id FROM auth_session WHERE user_id = ? ORDER BY id", userId);
  const session = await client.request("GET", "auth/session");
  return {
    password: user!.password,
    email: user!.email,
    emails: emails.map((e) => [e.email, Number(e.verified)]),
    sessions: sessions.map((s) => s.id),
    session: [session.status, session.body.data?.user?.id ?? null],
  };
}

/**
 * The victim signs in at the provider as `account`: a browser round trip (back on the frontend
 * without an error, then its session) or the app's token. The answer either way.
 */
async function socialLogin(kind: Kind, account: keyof typeof people): Promise<{ client: Client; answer: ClientResponse }> {
  if (kind === "browser") {
    const client = h.browser();
    expect(await socialRoundTrip(h, client, idp, account)).toBe(frontendCallback);
    return { client, answer: await client.request("GET", "auth/session") };
  }
  const client = h.app();
  return { client, answer: await providerToken(client, idp, account) };
}

function expectSignupForm(answer: ClientResponse): void {
  expect(answer.status).toBe(401);
  expect(answer.body.data.flows).toContainEqual(expect.objectContaining({ id: "provider_signup", is_pending: true }));
  expect(answer.body.meta.is_authenticated).toBe(false);
}

/** The social signup's answer per verification mode: the form, or the hidden "account exists" path. */
function expectSignupAnswer(verification: Verification, answer: ClientResponse): void {
  if (verification === "optional") {
    expectSignupForm(answer);
    expect(subjects()).toEqual([]);
  } else {
    expectPendingVerification(answer);
    expect(answer.body.data.flows).not.toContainEqual(expect.objectContaining({ id: "provider_signup" }));
    expect(subjects()).toEqual([[victim, "[example.com] Account Already Exists"]]);
  }
}

/** The provider signup form refuses the address, with the provider's wording; nothing happens. */
async function formRefusesVictimAddress(client: Client): Promise<void> {
  const taken = await client.request("POST", "auth/provider/signup", { email: victim });
  expect(taken.status).toBe(400);
  expect(taken.body.errors).toEqual([expect.objectContaining({ param: "email", code: "email_taken" })]);
  expect(h.takeSignals()).toEqual([]);
}

/** The attacker signs up with the victim's address and a password (its only address) and keeps that session. */
async function squat(verification: Verification): Promise<{ attacker: Client; attackerId: string }> {
  const attacker = h.app();
  const res = await attacker.request("POST", "auth/signup", { email: victim, password: attackerPassword });
  expect(res.status).toBe(verification === "optional" ? 200 : 401);
  const [user] = await h.query<{ id: string }>("SELECT id FROM auth_user");
  h.takeSignals();
  h.takeMails();
  expect(await addresses({ [user!.id]: "attacker" })).toEqual([["attacker", victim, 0, 1]]);
  return { attacker, attackerId: user!.id };
}

/** A browser signs up with `email`, verifies it by the mailed link, and is logged in (by password, when the link did not). */
async function signedUpVerified(email: string, password: string): Promise<{ client: Client; userId: string }> {
  const client = h.browser();
  await client.request("POST", "auth/signup", { email, password });
  const verified = await client.request("POST", "auth/email/verify", { key: keyFromMail(h.takeMails().at(-1)!) });
  expect(verified.status).toBeLessThan(402);
  const session = verified.status === 200 ? verified : await client.request("POST", "auth/login", { email, password });
  expect(session.status).toBe(200);
  expect(await h.query("SELECT verified FROM auth_email_address WHERE email = ?", email)).toEqual([{ verified: 1 }]);
  h.takeSignals();
  h.takeMails();
  return { client, userId: session.body.data.user.id };
}

/** The owner holds the victim's address, verified, and is logged in. */
async function verifiedOwner(): Promise<{ owner: Client; ownerId: string }> {
  const { client, userId } = await signedUpVerified(victim, ownerPassword);
  return { owner: client, ownerId: userId };
}

/** The attacker: a verified address of their own, then the victim's address added, unverified (a claim). */
async function claim(): Promise<{ attacker: Client; attackerId: string; claimKey: string }> {
  const { client: attacker, userId: attackerId } = await signedUpVerified(mallory, attackerPassword);
  expect((await attacker.request("POST", "account/email", { email: victim })).status).toBe(200);
  const [confirmation] = h.takeMails();
  expect(confirmation!.to).toBe(victim);
  h.takeSignals();
  return { attacker, attackerId, claimKey: keyFromMail(confirmation!) };
}

async function passwordLogin(email: string, password: string): Promise<number> {
  return (await h.app().request("POST", "auth/login", { email, password })).status;
}

describe("the attacker signed up with the victim's address and a password (OA-09)", () => {
  it.each([
    ["optional", "browser", false],
    ["optional", "app", true],
    ["mandatory", "browser", true],
    ["mandatory", "app", false],
  ] as const)(
    "%s verification, %s, auto-connect %s: a signup's answer, no login into the attacker's account, nothing linked, nothing of theirs changed",
    async (verification, kind, autoConnect) => {
      await open(verification, { emailAuthenticationAutoConnect: autoConnect });
      const { attacker, attackerId } = await squat(verification);
      const before = await accountState(attackerId, attacker);
      expect(before.session[0]).toBe(verification === "optional" ? 200 : 401);

      const { client, answer } = await socialLogin(kind, "victim");
      expect(take(h).names).toEqual(["pre_social_login"]);
      expectSignupAnswer(verification, answer);
      expect(answer.body.data.user).toBeUndefined();
      if (verification === "optional") {
        await formRefusesVictimAddress(client);
      }

      expect(await socialAccounts()).toEqual([]);
      expect(await h.count("auth_user")).toBe(1);
      expect(await accountState(attackerId, attacker)).toEqual(before);
      expect(await addresses({ [attackerId]: "attacker" })).toEqual([["attacker", victim, 0, 1]]);
      // The preset password still opens the attacker's account as before (pending its verification under mandatory).
      expect(await passwordLogin(victim, attackerPassword)).toBe(verification === "optional" ? 200 : 401);
      expect(h.takeSignals()).toEqual(verification === "optional" ? ["user_logged_in"] : []);
    },
  );
});

describe("the provider does not vouch for an address the owner verified here (OA-09)", () => {
  it.each([
    ["optional", "browser", true],
    ["optional", "app", false],
    ["mandatory", "browser", false],
    ["mandatory", "app", true],
  ] as const)("%s verification, %s, auto-connect %s: never logged into the owner's account, never linked", async (verification, kind, autoConnect) => {
    await open(verification, { emailAuthenticationAutoConnect: autoConnect });
    const { owner, ownerId } = await verifiedOwner();
    const before = await accountState(ownerId, owner);
    expect(before.session).toEqual([200, ownerId]);

    const { client, answer } = await socialLogin(kind, "unsure");
    expect(take(h).names).toEqual(["pre_social_login"]);
    expectSignupAnswer(verification, answer);
    expect(answer.body.data.user).toBeUndefined();
    if (verification === "optional") {
      await formRefusesVictimAddress(client);
    }
    expect(await socialAccounts()).toEqual([]);
    expect(await h.count("auth_user")).toBe(1);
    expect(await accountState(ownerId, owner)).toEqual(before);
  });

  it("the same address verified by the provider logs the owner in (the control)", async () => {
    await open("optional");
    const { ownerId } = await verifiedOwner();
    const { answer } = await socialLogin("app", "victim");
    expect(take(h).names).toEqual(["pre_social_login", "user_logged_in"]);
    expect(answer.status).toBe(200);
    expect(answer.body.data.user.id).toBe(ownerId);
  });
});

describe("the attacker claims the victim's address beside a verified one of their own (OA-09, EM-09)", () => {
  /** The claim is gone, the victim holds the address verified, the attacker keeps their account. */
  async function expectClaimDropped(attacker: Client, attackerId: string, victimId: string, claimKey: string, typed: AddressRow | null = null) {
    const names = { [attackerId]: "attacker", [victimId]: "victim" };
    const expected: Array<AddressRow> = [["attacker", mallory, 1, 1], ["victim", victim, 1, typed === null ? 1 : 0]];
    expect(await addresses(names)).toEqual((typed === null ? expected : [...expected, typed]).sort(byAddressThenWho));
    expect(await socialAccounts()).toEqual([[victimId, "victim"]]);
    // The attacker keeps their own account and session, and their key for the claim is dead.
    expect((await attacker.request("GET", "auth/session")).body.data.user.id).toBe(attackerId);
    const stale = await attacker.request("POST", "auth/email/verify", { key: claimKey });
    expect(stale.status).toBe(400);
    expect(stale.body.errors[0].code).toBe("invalid_or_expired_key");
    expect(await passwordLogin(mallory, attackerPassword)).toBe(200);
    expect(await passwordLogin(victim, attackerPassword)).toBe(400);
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
  }

  it.each([
    ["optional", "browser"],
    ["optional", "app"],
    ["mandatory", "browser"],
    ["mandatory", "app"],
  ] as const)("%s verification, %s: an automatic signup with the address verified, and the claim deleted", async (verification, kind) => {
    await open(verification);
    const { attacker, attackerId, claimKey } = await claim();
    const { answer } = await socialLogin(kind, "victim");
    const signals = take(h);
    expect(signals.names).toEqual(["pre_social_login", "user_signed_up", "user_logged_in"]);
    expect(answer.status).toBe(200);
    expect(answer.body.data.user.email).toBe(victim);
    const victimId = answer.body.data.user.id as string;
    expect(victimId).not.toBe(attackerId);
    expect(signals.one("user_signed_up").socialLogin).toEqual({ provider: "devidp", uid: "victim", userId: victimId, isExisting: true });
    expect(subjects()).toEqual([]);
    await expectClaimDropped(attacker, attackerId, victimId, claimKey);
  });

  it.each(["optional", "mandatory"] as const)(
    "%s verification, the provider signup form (autoSignup off): the claimed address is not taken; the signup deletes the claim",
    async (verification) => {
      await open(verification, { autoSignup: false });
      const { attacker, attackerId, claimKey } = await claim();
      const { client, answer } = await socialLogin("browser", "victim");
      expect(take(h).names).toEqual(["pre_social_login"]);
      expectSignupForm(answer);
      const done = await client.request("POST", "auth/provider/signup", { email: victim });
      expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
      expect(done.status).toBe(200);
      expect(done.body.data.user.email).toBe(victim);
      expect(subjects()).toEqual([]);
      await expectClaimDropped(attacker, attackerId, done.body.data.user.id, claimKey);
    },
  );

  it("the form with another address: the provider's verified address still joins the account, and the claim goes", async () => {
    await open("optional", { autoSignup: false });
    const { attacker, attackerId, claimKey } = await claim();
    const { client } = await socialLogin("app", "victim");
    expect(take(h).names).toEqual(["pre_social_login"]);
    const done = await client.request("POST", "auth/provider/signup", { email: "victoria@example.org" });
    expect(take(h).names).toEqual(["user_signed_up", "email_confirmation_sent", "user_logged_in"]);
    expect(done.status).toBe(200);
    expect(done.body.data.user.email).toBe("victoria@example.org");
    expect(subjects()).toEqual([["victoria@example.org", "[example.com] Please Confirm Your Email Address"]]);
    await expectClaimDropped(attacker, attackerId, done.body.data.user.id, claimKey, ["victim", "victoria@example.org", 0, 1]);
  });
});

describe("email authentication by an address one account verified and another claims (OA-09)", () => {
  it.each([
    ["browser", false],
    ["app", true],
  ] as const)("%s, auto-connect %s: logs into the verified owner; the claim is left where it was", async (kind, autoConnect) => {
    await open("optional", { emailAuthenticationAutoConnect: autoConnect });
    const { ownerId } = await verifiedOwner();
    const { attacker, attackerId } = await claim();
    const names = { [ownerId]: "owner", [attackerId]: "attacker" };
    const rows: Array<AddressRow> = [
      ["attacker", mallory, 1, 1],
      ["attacker", victim, 0, 0],
      ["owner", victim, 1, 1],
    ];
    expect(await addresses(names)).toEqual(rows);
    const attackerBefore = await accountState(attackerId, attacker);

    const { answer } = await socialLogin(kind, "victim");
    const signals = take(h);
    expect(signals.names).toEqual(autoConnect ? ["pre_social_login", "social_account_added", "user_logged_in"] : ["pre_social_login", "user_logged_in"]);
    expect(signals.one("user_logged_in").user.id).toBe(ownerId);
    expect(answer.status).toBe(200);
    expect(answer.body.data.user.id).toBe(ownerId);
    expect(await socialAccounts()).toEqual(autoConnect ? [[ownerId, "victim"]] : []);
    expect(await h.count("auth_user")).toBe(2);
    expect(await addresses(names)).toEqual(rows);
    expect(await accountState(attackerId, attacker)).toEqual(attackerBefore);
  });
});
