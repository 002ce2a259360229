/**
 * `POST auth/provider/token` (allauth's `ProviderTokenView`): an app hands over a token the
 * provider gave it (an ID token, checked in full against the provider's keys), and the social
 * login runs as after a browser callback. Errors as ALLAUTH-ERRORS §19; `connected_other` is a
 * 400 without param, a closed signup 403, a connect needing reauthentication 401.
 */
import { Clock } from "effect";
import type { FlowError } from "../../machines/errors.ts";
import { hitRateLimit } from "../storage/rate-limits.ts";
import { verifyAppToken } from "../social/app-token.ts";
import type { SocialProfile } from "../social/types.ts";
import type { Exchange } from "./exchange.ts";
import { isEmpty, readObject } from "./input.ts";
import { findProvider } from "./provider-redirect.ts";
import { runSocialLogin } from "./social-flow.ts";

const tokenError = (code: FlowError["code"]): FlowError => ({ code, param: "token" });
const maxTokenLength = 16 * 1024;

const text = (value: unknown): string | null => (typeof value === "string" && value !== "" && value.length <= maxTokenLength ? value : null);

/**
 * allauth's `verify_jti`: an ID token that carries `iss`, `jti` and `exp` is accepted once; a
 * second use before it expires is refused (its `jti` is remembered until then).
 */
async function firstUse(exchange: Exchange, claims: Readonly<Record<string, unknown>>): Promise<boolean> {
  const { iss, jti, exp } = claims;
  if (typeof iss !== "string" || typeof jti !== "string" || typeof exp !== "number") {
    return true;
  }
  const { runtime } = exchange.deps;
  const now = await runtime.runPromise(Clock.currentTimeMillis);
  const until = Math.max(exp * 1000 - now, 60_000);
  return runtime.runPromise(hitRateLimit(`jti:${iss}:${jti.slice(0, 200)}`, 1, until, now));
}

export async function postProviderToken(exchange: Exchange): Promise<Response> {
  const { config, bus } = exchange.deps;
  const body = await readObject(exchange.request);
  if (typeof body === "string") {
    return exchange.respond({ kind: "errors", errors: [{ code: body }] });
  }
  const errors: Array<FlowError> = [];
  const providerId = typeof body["provider"] === "string" && body["provider"].trim() !== "" ? body["provider"].trim() : null;
  if (providerId === null) {
    errors.push({ code: isEmpty(body["provider"]) ? "required" : "invalid", param: "provider" });
  }
  const process = body["process"];
  if (isEmpty(process)) {
    errors.push({ code: "required", param: "process" });
  } else if (process !== "login" && process !== "connect") {
    errors.push({ code: "invalid_choice", param: "process", details: { value: typeof process === "string" ? process : JSON.stringify(process) } });
  }
  const token = body["token"];
  if (token === undefined || token === null || token === "") {
    errors.push(tokenError("required"), tokenError("invalid_token"));
  } else if (typeof token !== "object" || Array.isArray(token)) {
    errors.push(tokenError("invalid_token"));
  } else if (Object.keys(token).length === 0) {
    errors.push(tokenError("required"));
  }
  if (errors.length > 0) {
    return exchange.respond({ kind: "errors", errors });
  }
  const given = token as Record<string, unknown>;
  const provider = findProvider(config, providerId);
  const clientId = text(given["client_id"]);
  if (provider?.type !== "dummy" && clientId === null) {
    return exchange.respond({ kind: "errors", errors: [tokenError("client_id_required")] });
  }
  if (provider === null || (provider.type !== "dummy" && clientId !== provider.clientId)) {
    return exchange.respond({ kind: "errors", errors: [tokenError("invalid_token")] });
  }
  if (!provider.flows.includes("provider_token")) {
    return exchange.respond({ kind: "errors", errors: [{ code: "token_authentication_not_supported", param: "provider" }] });
  }
  const idToken = given["id_token"];
  const accessToken = given["access_token"];
  const usable = (v: unknown) => v === undefined || typeof v === "string";
  if ((idToken === undefined && accessToken === undefined) || !usable(idToken) || !usable(accessToken)) {
    return exchange.respond({ kind: "errors", errors: [tokenError("token_required")] });
  }
  let profile: SocialProfile;
  try {
    profile = await verifyAppToken(provider, {
      ...(text(idToken) === null ? {} : { idToken: text(idToken)! }),
      ...(text(accessToken) === null ? {} : { accessToken: text(accessToken)! }),
    }, { timeoutSeconds: config.socialaccount.requestsTimeout });
  } catch {
    return exchange.respond({ kind: "errors", errors: [tokenError("invalid_token")] });
  }
  if (!(await firstUse(exchange, profile.extraData))) {
    return exchange.respond({ kind: "errors", errors: [tokenError("invalid_token")] });
  }
  const openForSignup = await config.adapter.isOpenForSignup(exchange.request);
  return exchange.step(async (step) => {
    const result = await runSocialLogin(step, { config, bus, openForSignup }, provider, profile, process as "login" | "connect");
    const outcome = result.outcome;
    if (outcome.kind === "errors") {
      // allauth answers a refused connect as a form error without a field.
      return { kind: "errors", errors: outcome.errors.map(({ param: _param, ...rest }) => rest) };
    }
    return outcome;
  });
}
