/**
 * The browser's provider round trip (allauth's `auth/provider/redirect`, the OAuth 2 callback
 * view and the dummy provider's page):
 *
 *  - `POST auth/provider/redirect` (a form, with `csrfmiddlewaretoken`): stores a single-use state
 *    bound to the session, the provider, the process (and, to connect, the user), with a PKCE
 *    verifier and a nonce, and answers 302 to the provider. A bad form goes to the frontend's
 *    `socialaccountLoginError` URL with `?error=unknown&error_process=login`.
 *  - `GET /accounts/<provider>/login/callback/`: takes the state (gone after this, whatever
 *    happens), has the provider layer check the answer, then runs the social login in one step
 *    and answers 302 to the frontend's `callback_url`, with `?error=…&error_process=…` on failure.
 *  - `/accounts/dummy/login/`: the dummy provider's page (development only).
 */
import { Clock, Effect } from "effect";
import type { SocialProcess } from "../../machines/social-login.ts";
import type { ResolvedConfig } from "../config.ts";
import { saveSessionData } from "../runtime/session.ts";
import { Tokens } from "../services/tokens.ts";
import { dummyPage, dummyProfile } from "../social/dummy.ts";
import { completeCallback } from "../social/callback.ts";
import { authorizationUrl, newRedirectSecrets } from "../social/client.ts";
import { ProviderError } from "../social/errors.ts";
import { openSecret, sealSecret } from "../social/token-box.ts";
import type { ProviderConfig, SocialProfile } from "../social/types.ts";
import { insertRedirectState, sweepRedirectStates, takeRedirectState } from "../storage/social.ts";
import type { Exchange } from "./exchange.ts";
import { readText } from "./input.ts";
import { hostDomain, isAllowedHost } from "./host.ts";
import { runSocialLogin } from "./social-flow.ts";

const statePurpose = "social_state";
const maxFormBytes = 16 * 1024;

/** The configured provider `id`, or null. */
export function findProvider(config: ResolvedConfig, id: string | null): ProviderConfig | null {
  return id === null ? null : (config.socialaccount.providers.find((p) => p.id === id) ?? null);
}

/** allauth's `is_safe_url`: a path on this site, or an absolute http(s) URL on an allowed host. */
export function isSafeUrl(config: ResolvedConfig, url: string): boolean {
  if (url.startsWith("/") && !url.startsWith("//") && !url.startsWith("/\\")) {
    return true;
  }
  try {
    const parsed = new URL(url);
    const domain = hostDomain(parsed.host);
    return (parsed.protocol === "http:" || parsed.protocol === "https:") && domain !== null && isAllowedHost(domain, config.allowedHosts);
  } catch {
    return false;
  }
}

/** `url` with allauth's error parameters added (`error`, `error_process`). */
function withError(url: string, origin: string, error: string, process: SocialProcess): string {
  const absolute = new URL(url, origin);
  absolute.searchParams.set("error", error);
  absolute.searchParams.set("error_process", process);
  return url.startsWith("/") ? `${absolute.pathname}${absolute.search}${absolute.hash}` : absolute.href;
}

/** The frontend's error page (`socialaccountLoginError`), for failures that know no `callback_url`. */
function loginErrorUrl(exchange: Exchange, error = "unknown", process: SocialProcess = "login"): string {
  return withError(exchange.deps.config.frontendUrls.socialaccountLoginError, exchange.info.origin, error, process);
}

/** The callback URL the provider is given: on the configured origin, exactly. */
export function callbackUrl(exchange: Exchange, provider: ProviderConfig): string {
  return `${exchange.info.origin}/accounts/${encodeURIComponent(provider.id)}/login/callback/`;
}

async function readForm(request: Request): Promise<URLSearchParams | null> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) {
    return null;
  }
  const text = await readText(request);
  return text === null || text.length > maxFormBytes ? null : new URLSearchParams(text);
}

function redirect(exchange: Exchange, location: string): Promise<Response> {
  return exchange.respond({ kind: "redirect", location });
}

export async function postProviderRedirect(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  const form = await readForm(exchange.request);
  if (form === null || !exchange.csrfTokenOk(form.get("csrfmiddlewaretoken"))) {
    return exchange.respond({ kind: "status", status: 403 });
  }
  const provider = findProvider(config, form.get("provider"));
  const next = form.get("callback_url") ?? "";
  const process = form.get("process");
  if (
    provider === null ||
    !provider.flows.includes("provider_redirect") ||
    next === "" ||
    next.length > 2048 ||
    !isSafeUrl(config, next) ||
    (process !== "login" && process !== "connect")
  ) {
    return redirect(exchange, loginErrorUrl(exchange));
  }
  const secrets = newRedirectSecrets();
  const redirectUri = callbackUrl(exchange, provider);
  let target: string;
  try {
    target =
      provider.type === "dummy"
        ? `${exchange.info.origin}/accounts/dummy/login/?state=${encodeURIComponent(secrets.state)}`
        : (await authorizationUrl(provider, { redirectUri, ...secrets }, { timeoutSeconds: config.socialaccount.requestsTimeout })).href;
  } catch {
    return redirect(exchange, withError(next, exchange.info.origin, "unknown", process));
  }
  return exchange.step(async (step) => {
    if (step.session.id === null) {
      await step.write(saveSessionData(step, step.session.data));
    }
    await step.write(
      Effect.gen(function* () {
        const tokens = yield* Tokens;
        const now = yield* Clock.currentTimeMillis;
        // States that expired unused go as new ones come.
        yield* sweepRedirectStates(now);
        yield* insertRedirectState({
          digest: tokens.digest(statePurpose, secrets.state),
          session_id: step.session.id!,
          provider: provider.id,
          process,
          next,
          user_id: step.session.user?.id ?? null,
          pkce_verifier_sealed: sealSecret(config.secret, secrets.pkceVerifier),
          nonce: secrets.nonce,
          redirect_uri: redirectUri,
          created_at: now,
          expires_at: now + config.socialaccount.stateTimeout * 1000,
        });
      }),
    );
    return { kind: "redirect", location: target };
  });
}

/** The state a callback names, taken (single use) and checked against this browser and provider, or null. */
async function takeState(exchange: Exchange, provider: ProviderConfig, state: string | null) {
  if (state === null || state === "" || state.length > 512) {
    return null;
  }
  const { runtime } = exchange.deps;
  const session = await exchange.loadSession();
  const row = await runtime.runPromise(
    Effect.gen(function* () {
      const tokens = yield* Tokens;
      const now = yield* Clock.currentTimeMillis;
      return yield* takeRedirectState(tokens.digest(statePurpose, state), now);
    }),
  );
  if (row === null || row.provider !== provider.id || session.id === null || row.session_id !== session.id) {
    return null;
  }
  // Connect is bound to the user who started it.
  if (row.process === "connect" && (session.user?.id ?? null) !== row.user_id) {
    return null;
  }
  return row;
}

/** Completes the login the provider vouched for, and sends the browser back to the frontend. */
async function finish(exchange: Exchange, provider: ProviderConfig, profile: SocialProfile, process: SocialProcess, next: string): Promise<Response> {
  const { config, bus } = exchange.deps;
  const openForSignup = await config.adapter.isOpenForSignup(exchange.request);
  return exchange.step(async (step) => {
    const result = await runSocialLogin(step, { config, bus, openForSignup }, provider, profile, process);
    if (result.outcome.kind === "response") {
      return result.outcome;
    }
    const location = result.error === null ? next : withError(next, exchange.info.origin, result.error, process);
    return { kind: "redirect", location };
  });
}

export async function providerCallback(exchange: Exchange, providerId: string): Promise<Response> {
  const { config } = exchange.deps;
  const provider = findProvider(config, providerId);
  if (provider === null || provider.type === "dummy") {
    return exchange.respond({ kind: "status", status: 404 });
  }
  const url = new URL(exchange.request.url);
  const row = await takeState(exchange, provider, url.searchParams.get("state"));
  if (row === null) {
    return redirect(exchange, loginErrorUrl(exchange));
  }
  const process = row.process as SocialProcess;
  const providerError = url.searchParams.get("error");
  if (providerError !== null || !url.searchParams.has("code")) {
    const code = providerError === "access_denied" ? "cancelled" : "unknown";
    return redirect(exchange, withError(row.next, exchange.info.origin, code, process));
  }
  const verifier = openSecret(config.secret, row.pkce_verifier_sealed);
  let profile: SocialProfile;
  try {
    if (verifier === null) {
      throw new ProviderError("unknown", "the stored verifier cannot be opened");
    }
    // The provider's answer is checked against the exact redirect URI it was given.
    const answered = new URL(row.redirect_uri);
    answered.search = url.search;
    const now = await exchange.deps.runtime.runPromise(Clock.currentTimeMillis);
    profile = await completeCallback(
      provider,
      answered,
      { state: url.searchParams.get("state")!, nonce: row.nonce, pkceVerifier: verifier, redirectUri: row.redirect_uri },
      { timeoutSeconds: config.socialaccount.requestsTimeout, now },
    );
  } catch (error) {
    const code = error instanceof ProviderError ? error.code : "unknown";
    if (!(error instanceof ProviderError)) {
      exchange.deps.report("provider callback failed", error);
    }
    return redirect(exchange, withError(row.next, exchange.info.origin, code, process));
  }
  return finish(exchange, provider, profile, process, row.next);
}

/** `GET|POST /accounts/dummy/login/?state=…`: the dummy provider's page and its answer. */
export async function dummyLogin(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  const provider = config.socialaccount.providers.find((p) => p.type === "dummy") ?? null;
  if (provider === null) {
    return exchange.respond({ kind: "status", status: 404 });
  }
  const url = new URL(exchange.request.url);
  const state = url.searchParams.get("state");
  const action = `/accounts/dummy/login/?state=${encodeURIComponent(state ?? "")}`;
  if (exchange.request.method === "GET") {
    if (state === null || state === "") {
      return exchange.respond({ kind: "status", status: 403 });
    }
    return html(dummyPage({ action, state, errors: {}, values: {} }));
  }
  const form = await readForm(exchange.request);
  if (form === null) {
    return exchange.respond({ kind: "status", status: 400 });
  }
  if (form.get("action") === "cancel") {
    const row = await takeState(exchange, provider, state);
    return redirect(exchange, row === null ? loginErrorUrl(exchange, "cancelled") : withError(row.next, exchange.info.origin, "cancelled", row.process as SocialProcess));
  }
  const fields = Object.fromEntries(form.entries());
  const parsed = dummyProfile(fields, provider);
  if (!parsed.ok) {
    return html(dummyPage({ action, state: state ?? "", errors: parsed.errors, values: fields }), 200);
  }
  const row = await takeState(exchange, provider, state);
  if (row === null) {
    return redirect(exchange, loginErrorUrl(exchange));
  }
  return finish(exchange, provider, parsed.profile, row.process as SocialProcess, row.next);
}

function html(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
      "x-frame-options": "DENY",
    },
  });
}
