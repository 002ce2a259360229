/**
 * `auth.handler`: a Fetch `Request → Response` function serving the allauth headless API under
 * `<basePath>/{browser|app}/v1/` (`/_allauth` by default); `handler.owns(pathname)` tells an
 * adapter which paths are its own (the API, and with social login the `/accounts/…` pages). A host outside `allowedHosts` answers 400 before anything else,
 * unknown paths 404, wrong methods 405, a browser request without a valid CSRF token 403, and an
 * unexpected failure 500 (503 when the database is unreachable) with no detail: nothing throws
 * past it.
 */
import type { Exchange, HandlerDeps } from "./exchange.ts";
import { Exchange as ExchangeClass } from "./exchange.ts";
import { getEmailVerification, postEmailVerification, postEmailVerificationResend } from "./email-verification.ts";
import { postCodeConfirm, postCodeRequest, postCodeResend } from "./login-by-code.ts";
import { postLogin } from "./login.ts";
import { manageEmail } from "./manage-email.ts";
import { postPasswordChange } from "./password-change.ts";
import { failure, plain } from "./failure.ts";
import { bufferBody } from "./input.ts";
import { disallowedHost, requestOrigin } from "./host.ts";
import { socialConfigJson } from "./providers-json.ts";
import { getPasswordReset, postPasswordRequest, postPasswordReset } from "./password-reset.ts";
import { postReauthenticate } from "./reauthenticate.ts";
import { deleteSession, getSession } from "./session.ts";
import { postSignup } from "./signup.ts";
import { userSessions } from "./user-sessions.ts";
import { dummyLogin, postProviderRedirect, providerCallback } from "./provider-redirect.ts";
import { providerSignup } from "./provider-signup.ts";
import { postProviderToken } from "./provider-token.ts";
import { manageProviders } from "./providers.ts";

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

/** Present once `socialaccount.providers` names any (allauth: when `allauth.socialaccount` is installed). */
const socialRoutes: Readonly<Record<string, Readonly<Record<string, Endpoint>>>> = {
  "auth/provider/redirect": { POST: postProviderRedirect },
  "auth/provider/token": { POST: postProviderToken },
  "auth/provider/signup": { GET: providerSignup, POST: providerSignup },
  "account/providers": { GET: manageProviders, DELETE: manageProviders },
};

/** Browser routes outside the API: the providers' callbacks and the dummy provider's page. */
function socialPageRoute(pathname: string): { readonly endpoint: Endpoint; readonly methods: ReadonlyArray<string> } | null {
  if (pathname === "/accounts/dummy/login/") {
    return { endpoint: dummyLogin, methods: ["GET", "POST"] };
  }
  const callback = /^\/accounts\/([^/]{1,200})\/login\/callback\/$/.exec(pathname);
  if (callback === null) {
    return null;
  }
  let id: string;
  try {
    id = decodeURIComponent(callback[1]!);
  } catch {
    return null;
  }
  return { endpoint: (exchange) => providerCallback(exchange, id), methods: ["GET"] };
}

/** Present only with `usersessions` (allauth: when `allauth.usersessions` is installed). */
const userSessionRoutes: Readonly<Record<string, Readonly<Record<string, Endpoint>>>> = {
  "auth/sessions": { GET: userSessions, DELETE: userSessions },
};

/**
 * `table[key]` when `key` is the table's own entry: a path or method such as `constructor`,
 * `toString` or `__proto__` never reaches the object's prototype (SECURITY.md IV-03).
 */
function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

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

/** The client address: the socket's, or the configured number of proxies back in `X-Forwarded-For`. */
function clientIp(request: Request, socketIp: string | undefined, trustedProxyCount: number): string | null {
  if (trustedProxyCount > 0) {
    const chain = (request.headers.get("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const candidate = chain[chain.length - trustedProxyCount];
    if (candidate !== undefined) {
      return candidate;
    }
  }
  return socketIp ?? null;
}

export const unknownIpWarning =
  "the handler was not given the client's IP address, so every client shares one rate-limit bucket: " +
  "call auth.handler(request, { ip: req.socket.remoteAddress }) (toNodeListener does), " +
  "or set trustedProxyCount behind a proxy that sets X-Forwarded-For";

export interface HandlerOptions {
  /** The peer address of the connection (Node: `req.socket.remoteAddress`). */
  readonly ip?: string;
}

/** The Fetch handler, and which paths it serves (the rest an adapter hands to the app). */
export interface AuthHandler {
  (request: Request, options?: HandlerOptions): Promise<Response>;
  /** Whether `pathname` is one of the handler's: under `basePath`, or a social login page. */
  readonly owns: (pathname: string) => boolean;
  /** Where the handler reports (createAuth's `report`); adapters report there too. */
  readonly report: (message: string, error: unknown) => void;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export function createHandler(deps: HandlerDeps): AuthHandler {
  const social = deps.config.socialaccount.providers.length > 0;
  const base = escapeRegExp(deps.config.basePath);
  const apiPath = new RegExp(`^${base}/(browser|app)/v1/(.+?)/?$`);
  const underBase = new RegExp(`^${base}(?:/|$)`);
  let warned = false;
  /** The client's address; without one, says once how to pass it, and keys limits on "unknown". */
  const ipOf = (request: Request, options: HandlerOptions | undefined): string => {
    const ip = clientIp(request, options?.ip, deps.config.trustedProxyCount);
    if (ip === null && !warned) {
      warned = true;
      deps.report(unknownIpWarning, undefined);
    }
    return ip ?? "unknown";
  };
  const handle = async (request: Request, options?: HandlerOptions): Promise<Response> => {
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
    const page = social ? socialPageRoute(url.pathname) : null;
    if (page !== null) {
      if (!page.methods.includes(request.method)) {
        return plain(405);
      }
      const exchange = new ExchangeClass(deps, request, "browser", ipOf(request, options), origin);
      try {
        return await page.endpoint(exchange);
      } catch (error) {
        return failure(deps.report, error);
      }
    }
    const match = apiPath.exec(url.pathname);
    const route =
      match === null
        ? undefined
        : (own(routes, match[2]!) ??
          (deps.config.usersessions === null ? undefined : own(userSessionRoutes, match[2]!)) ??
          (social ? own(socialRoutes, match[2]!) : undefined));
    if (match === null || route === undefined) {
      return plain(404);
    }
    const endpoint = own(route, request.method);
    if (endpoint === undefined) {
      return plain(405);
    }
    const exchange = new ExchangeClass(
      deps,
      request,
      match[1] as "browser" | "app",
      ipOf(request, options),
      origin,
    );
    try {
      await bufferBody(request);
      // The provider redirect is a form: its `csrfmiddlewaretoken` is checked by the endpoint.
      if (match[2] !== "auth/provider/redirect" && !exchange.csrfOk()) {
        // Reads the session (for its cookies): inside the boundary, like everything that may touch storage.
        return await exchange.respond({ kind: "status", status: 403 });
      }
      return (await exchange.admit()) ?? (await endpoint(exchange));
    } catch (error) {
      return failure(deps.report, error);
    }
  };
  const owns = (pathname: string): boolean => underBase.test(pathname) || (social && socialPageRoute(pathname) !== null);
  return Object.assign(handle, { owns, report: deps.report });
}
