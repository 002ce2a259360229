export { authSignalNames } from "./signals.ts";
export type {
  AuthSignal,
  AuthSignalName,
  AuthSignalOf,
  ConfirmationRef,
  EmailAddressRef,
  SocialAccountRef,
  SocialLoginRef,
  UserRef,
} from "./signals.ts";
export type { AuthErrorCode, FlowError } from "./errors.ts";
export { isFlowError, toFlowError } from "./errors.ts";
export type * from "./contracts.ts";
export { Secret } from "./secret.ts";
export { loginPipelineStates } from "./login-pipeline.ts";
export type { FlowTag, LoginPipelineContext } from "./login-pipeline.ts";
export { signupMachine } from "./signup.ts";
export type { SignupContext, SignupEvent } from "./signup.ts";
export { loginMachine } from "./login.ts";
export type { LoginContext, LoginEvent } from "./login.ts";
export { logoutMachine } from "./logout.ts";
export type { LogoutContext, LogoutEvent } from "./logout.ts";
export { emailVerificationMachine } from "./email-verification.ts";
export { manageEmailMachine } from "./manage-email.ts";
export type { ManageEmailContext, ManageEmailEvent, ManageEmailInput } from "./manage-email.ts";
export { reauthenticateMachine } from "./reauthenticate.ts";
export type { ReauthenticateContext, ReauthenticateEvent } from "./reauthenticate.ts";
export { loginByCodeMachine } from "./login-by-code.ts";
export type { LoginByCodeContext, LoginByCodeEvent, LoginByCodeInput } from "./login-by-code.ts";
export { passwordResetMachine } from "./password-reset.ts";
export type { PasswordResetContext, PasswordResetEvent, PasswordResetInput } from "./password-reset.ts";
export { userSessionsMachine } from "./user-sessions.ts";
export type { UserSessionsContext, UserSessionsEvent, UserSessionsInput } from "./user-sessions.ts";
export { passwordChangeMachine } from "./password-change.ts";
export { passwordSetMachine } from "./password-set.ts";
export type { PasswordFlowContext, PasswordFlowEvent, PasswordFlowInput } from "./password-flow.ts";
export type {
  EmailVerificationContext,
  EmailVerificationEvent,
  EmailVerificationInput,
} from "./email-verification.ts";

import { emailVerificationMachine } from "./email-verification.ts";
import { loginByCodeMachine } from "./login-by-code.ts";
import { loginMachine } from "./login.ts";
import { manageEmailMachine } from "./manage-email.ts";
import { passwordChangeMachine } from "./password-change.ts";
import { passwordResetMachine } from "./password-reset.ts";
import { passwordSetMachine } from "./password-set.ts";
import { logoutMachine } from "./logout.ts";
import { reauthenticateMachine } from "./reauthenticate.ts";
import { signupMachine } from "./signup.ts";
import { userSessionsMachine } from "./user-sessions.ts";

/** Every flow machine by its slug. */
import { socialLoginMachine } from "./social-login.ts";
import { providerSignupMachine } from "./provider-signup.ts";
import { socialDisconnectMachine } from "./social-disconnect.ts";
export const machines = {
  signup: signupMachine,
  login: loginMachine,
  logout: logoutMachine,
  "email-verification": emailVerificationMachine,
  "password-change": passwordChangeMachine,
  "password-set": passwordSetMachine,
  "manage-email": manageEmailMachine,
  reauthenticate: reauthenticateMachine,
  "user-sessions": userSessionsMachine,
  "password-reset": passwordResetMachine,
  "login-by-code": loginByCodeMachine,
  "social-login": socialLoginMachine,
  "provider-signup": providerSignupMachine,
  "social-disconnect": socialDisconnectMachine,
} as const;
export { socialLoginMachine, providerSignupMachine, socialDisconnectMachine };
export type { SocialLoginContext, SocialLoginEvent, SocialLoginInput, SocialProcess } from "./social-login.ts";
export type { ProviderSignupContext, ProviderSignupEvent, ProviderSignupInput } from "./provider-signup.ts";
export type { SocialDisconnectContext, SocialDisconnectEvent, SocialDisconnectInput } from "./social-disconnect.ts";
export type * from "./social-contracts.ts";
