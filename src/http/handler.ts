/**
 * `auth.handler`: a Fetch `Request → Response` function serving the allauth headless API under
 * `/_allauth/{browser|app}/v1/`. A host outside `allowedHosts` answers 400 before anything else,
 * unknown paths 404, wrong methods 405, a browser request without a valid CSRF token 403, and an
 * unexpected failure 500 with no detail.
 */
import type { Exchange, HandlerDeps } from "./exchange.ts";
import { Exchange as ExchangeClass } from "./exchange.ts";
import { getEmailVerification, postEmailVerification, postEmailVerificationResend } from "./email-verification.ts";
import { postCodeConfirm, postCodeRequest, postCodeResend } from "./login-by-code.ts";
import { postLogin } from "./login.ts";
import { manageEmail } from "./manage-email.ts";
import { postPasswordChange } from "./password-change.ts";
import { disallowedHost, requestOrigin } from "./host.ts";
import { socialConfigJson } from "./providers-json.ts";
import { getPasswordReset, postPasswordRequest, postPasswordReset } from "./password-reset.ts";
import { postReauthenticate } from "./reauthenticate.ts";
import { deleteSession, getSession } from "./session.ts";
import { postSignup } from "./signup.ts";
import { userSessions } from "./user-sessions.ts";

type Endpoint = (exchange: Exchange) => Promise<Response>;

const routes: Readonly<Record<string, Readonly<Record<string, Endpoint>>>> = {
  config: { GET: getConfig },
  "auth/signup": { POST: postSignup },
  "auth/login": { POST: postLogin },
  "auth/session": { GET: getSession, DELETE: deleteSession },
  "auth/email/verify": { GET: getEmailVerification, POST: postEmailVerification },
  "auth/email/verify/resend": { POST: postEmailVerificationResend },
  "account/password/change": { POST: postPasswordChange },
  "account/email": { GET: manageEmail, POST: manageEmail, PUT: manageEmail, PATCH: manageEmail, DELETE: manageEmail },
  "auth/reauthenticate": { POST: postReauthenticate },
  "auth/password/request": { POST: postPasswordRequest },
  "auth/code/request": { POST: postCodeRequest },
  "auth/code/confirm": { POST: postCodeConfirm },
  "auth/code/resend": { POST: postCodeResend },
  "auth/password/reset": { GET: getPasswordReset, POST: postPasswordReset },
};

/** Present only with `usersessions` (allauth: when `allauth.usersessions` is installed). */
const userSessionRoutes: Readonly<Record<string, Readonly<Record<string, Endpoint>>>> = {
  "auth/sessions": { GET: userSessions, DELETE: userSessions },
};

/** allauth's `ConfigResponse`: the account keys, then one key per optional app that is on. */
async function getConfig(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  const account = config.account;
  const methods = account.loginMethods;
  const data: Record<string, unknown> = {
    account: {
      login_methods: methods,
      is_open_for_signup: await config.adapter.isOpenForSignup(exchange.request),
      email_verification_by_code_enabled: account.emailVerificationByCodeEnabled,
      login_by_code_enabled: account.loginByCodeEnabled,
      password_reset_by_code_enabled: account.passwordResetByCodeEnabled,
      authentication_method: methods.length === 1 ? methods[0] : "username_email",
    },
  };
  const socialaccount = socialConfigJson(config, exchange.client);
  if (socialaccount !== null) {
    data["socialaccount"] = socialaccount;
  }
  if (config.usersessions !== null) {
    data["usersessions"] = { track_activity: config.usersessions.trackActivity };
  }
  return exchange.respond({ kind: "data", status: 200, data });
}

function plain(status: number): Response {
  return new Response(JSON.stringify({ status }), { status, headers: { "content-type": "application/json" } });
}

/** The client address: the socket's, or the configured number of proxies back in `X-Forwarded-For`. */
function clientIp(request: Request, socketIp: string | undefined, trustedProxyCount: number): string {
  if (trustedProxyCount > 0) {
    const chain = (request.headers.get("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const candidate = chain[chain.length - trustedProxyCount];
    if (candidate !== undefined) {
      return candidate;
    }
  }
  return socketIp ?? "unknown";
}

export interface HandlerOptions {
  /** The peer address of the connection (Node: `req.socket.remoteAddress`). */
  readonly ip?: string;
}

export function createHandler(deps: HandlerDeps): (request: Request, options?: HandlerOptions) => Promise<Response> {
  return async (request, options) => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return plain(400);
    }
    const origin = requestOrigin(request, deps.config);
    if (origin === null) {
      return disallowedHost();
    }
    const match = /^\/_allauth\/(browser|app)\/v1\/(.+?)\/?$/.exec(url.pathname);
    const route =
      match === null
        ? undefined
        : (routes[match[2]!] ?? (deps.config.usersessions === null ? undefined : userSessionRoutes[match[2]!]));
    if (match === null || route === undefined) {
      return plain(404);
    }
    const endpoint = route[request.method];
    if (endpoint === undefined) {
      return plain(405);
    }
    const exchange = new ExchangeClass(
      deps,
      request,
      match[1] as "browser" | "app",
      clientIp(request, options?.ip, deps.config.trustedProxyCount),
      origin,
    );
    if (!exchange.csrfOk()) {
      return exchange.respond({ kind: "status", status: 403 });
    }
    try {
      return (await exchange.admit()) ?? (await endpoint(exchange));
    } catch (error) {
      deps.report("request failed", error);
      return plain(500);
    }
  };
}
