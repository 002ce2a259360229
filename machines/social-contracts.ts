/**
 * The inputs and outputs of the social flows' named actors (`social-login`, `provider-signup`,
 * `social-disconnect`). Plain JSON: a provider's tokens never enter a machine; the edge keeps
 * them beside the actors that store them.
 */
import type { FlowError } from "./errors.ts";
import type { EmailAddressRef, SocialAccountRef, SocialLoginRef, UserRef } from "./signals.ts";

/** One address as the provider reports it. */
export interface SocialEmail {
  readonly email: string;
  readonly verified: boolean;
  readonly primary: boolean;
}

/** What a provider said about a person, without its tokens (allauth's `SocialLogin`). */
export interface SocialProfileData {
  readonly provider: string;
  readonly uid: string;
  readonly emailAddresses: ReadonlyArray<SocialEmail>;
  readonly username: string | null;
  readonly firstName: string | null;
  readonly lastName: string | null;
}

/** The social settings a flow reads (allauth's `SOCIALACCOUNT_*`, camelCased). */
export interface SocialSettings {
  readonly autoSignup: boolean;
  readonly emailRequired: boolean;
  readonly emailAuthenticationAutoConnect: boolean;
}

/** `lookupSocialAccount`: allauth's `SocialLogin.lookup()`. */
export interface LookupOutput {
  /** The connected account, its data already refreshed (`social_account_updated`), or null. */
  readonly account: SocialAccountRef | null;
  /** The account's user, or the user an email authentication matched, or null (a new person). */
  readonly user: UserRef | null;
  /** Email authentication: the matched (provider-verified) address. */
  readonly byEmail: string | null;
  /** Whether the user has a verified address (the verification stage reads it). */
  readonly hasVerifiedEmail: boolean;
}

/** `runPreSocialLogin`: what the `pre_social_login` receivers decided. */
export type PreSocialLoginOutput =
  | { readonly kind: "continue" }
  /** A receiver answered itself (allauth's `ImmediateHttpResponse`): the flow stops here. */
  | { readonly kind: "abort" }
  /** A receiver connected the login to this user (allauth's `sociallogin.connect`). */
  | { readonly kind: "connect"; readonly user: UserRef };

export interface ConnectAccountInput {
  readonly userId: string;
}
export interface ConnectAccountOutput {
  readonly account: SocialAccountRef;
  readonly hasVerifiedEmail: boolean;
}

/** `acceptLogin`: an existing user's social login (email authentication's extra rules). */
export interface AcceptLoginInput {
  readonly userId: string;
  readonly byEmail: string | null;
  /** Email authentication with auto-connect: the account is stored for this user. */
  readonly connect: boolean;
}
export interface AcceptLoginOutput {
  readonly user: UserRef;
  /** The account stored by auto-connect (`social_account_added`), or null. */
  readonly added: SocialAccountRef | null;
}

/** `assessSocialSignup`: allauth's `process_auto_signup`. */
export interface AssessSignupOutput {
  /** `auto`: sign up now; `form`: the provider signup form is needed; `hidden`: the address is taken, hidden by enumeration prevention. */
  readonly decision: "auto" | "form" | "hidden";
  readonly email: string | null;
}

/** `createSocialUser`: the user, its addresses and the social account. */
export interface CreateSocialUserInput {
  readonly email: string | null;
  readonly username: string | null;
}
export interface CreateSocialUserOutput {
  readonly user: UserRef;
  readonly account: SocialAccountRef;
  /** The address the login goes on with (the primary), or null. */
  readonly emailAddress: EmailAddressRef | null;
}

/** `validateProviderSignup`: the provider signup form (allauth's `SignupForm` without passwords). */
export interface ProviderSignupForm {
  readonly email: string | null;
  readonly username: string | null;
}
export interface ValidateProviderSignupOutput {
  readonly email: string | null;
  readonly username: string | null;
  /** The address is taken and enumeration prevention hides it (mandatory verification). */
  readonly hidden: boolean;
}

/** `checkDisconnect` / `removeSocialAccount`. */
export interface DisconnectInput {
  readonly userId: string;
  readonly provider: string;
  readonly uid: string;
}
export interface DisconnectOutput {
  readonly account: SocialAccountRef;
}

/** A social login as signals see it. */
export function socialLoginRef(profile: SocialProfileData, user: UserRef | null, isExisting: boolean): SocialLoginRef {
  return { provider: profile.provider, uid: profile.uid, userId: user?.id ?? null, isExisting };
}

export type { FlowError };
