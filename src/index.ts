export { createAuth } from "./auth.ts";
export type { Auth, CreateAuthOptions } from "./auth.ts";
export { resolveConfig, parseRateRules } from "./config.ts";
export type { AuthConfig, AccountConfig, FrontendUrls, ResolvedConfig } from "./config.ts";
export type { SignalPayload, SignalRequest, Receiver } from "./runtime/signal-bus.ts";
export type { Mail } from "./services/mailer.ts";
export { AuthFailure } from "./errors.ts";
export { signupActors, loginActors, logoutActors, emailVerificationActors } from "./actors/index.ts";
export { toNodeListener } from "./http/node.ts";
