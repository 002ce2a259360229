/**
 * The headless API's response bodies: authenticated (200), not authenticated (401, with the
 * flows and the pending one), errors (400), and bare statuses (403, 409, 410, 429).
 */
import type { UserRef } from "../../machines/signals.ts";
import type { ResolvedConfig } from "../config.ts";
import type { SessionState } from "../runtime/step.ts";
import { flatErrors } from "../../machines/errors.ts";
import { errorFor, statusFor } from "./error-table.ts";
import type { InputError } from "./input.ts";
import { pendingOf, pendingResetOf } from "./pending-flow.ts";
import { providerFlowsJson, providerSignupFlow } from "./providers-json.ts";

/** What an endpoint decided; rendered once the step knows the final session. */
export type Outcome =
  | { readonly kind: "session" }
  | { readonly kind: "errors"; readonly errors: ReadonlyArray<InputError> }
  | { readonly kind: "status"; readonly status: number }
  | { readonly kind: "data"; readonly status: number; readonly data: unknown; readonly meta?: unknown }
  /** 401 for a logged-in user who must reauthenticate first. */
  | { readonly kind: "reauthenticate" }
  /** allauth's `UnauthorizedResponse`: flows and `is_authenticated: null` (410: a dead app token). */
  | { readonly kind: "unauthorized"; readonly status: 401 | 410 }
  /** A browser redirect (the social flows' 302 to the provider or back to the frontend). */
  | { readonly kind: "redirect"; readonly location: string }
  /** A response made elsewhere (a `pre_social_login` receiver's), answered as it is. */
  | { readonly kind: "response"; readonly response: Response };

/** allauth's `serialize_user`: an empty or missing `email` or `username` is left out, not null. */
export function userJson(user: UserRef): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: user.id,
    display: user.username || user.email || user.id,
    has_usable_password: user.hasUsablePassword,
  };
  if (user.email) {
    json["email"] = user.email;
  }
  if (user.username) {
    json["username"] = user.username;
  }
  return json;
}

export function flowsJson(
  config: ResolvedConfig,
  session: SessionState,
  now: number,
  openForSignup: boolean,
  client: "browser" | "app",
): Array<Record<string, unknown>> {
  // allauth's order: login, login by code when enabled, signup only while open, the provider
  // flows this client can start, then the pending stage; password reset by code (a process of
  // its own) last, pending or not.
  const flows: Array<Record<string, unknown>> = [{ id: "login" }];
  if (config.account.loginByCodeEnabled) {
    flows.push({ id: "login_by_code" });
  }
  if (openForSignup) {
    flows.push({ id: "signup" });
  }
  flows.push(...providerFlowsJson(config, client));
  const socialSignup = providerSignupFlow(config, session, now);
  if (socialSignup !== null) {
    flows.push(socialSignup);
  }
  const live = pendingOf(session, now);
  if (live !== null) {
    const listed = flows.find((f) => f["id"] === live.flow);
    if (listed === undefined) {
      flows.push({ id: live.flow, is_pending: true });
    } else {
      listed["is_pending"] = true;
    }
  }
  if (config.account.passwordResetByCodeEnabled) {
    flows.push({ id: "password_reset_by_code", is_pending: pendingResetOf(session, now) !== null });
  }
  return flows;
}

/**
 * allauth's flows for a user who must reauthenticate: `reauthenticate` (only users with a usable
 * password are ever asked), then password reset by code when enabled, as in every flow list.
 */
function reauthenticationFlowsJson(config: ResolvedConfig, session: SessionState, now: number): Array<Record<string, unknown>> {
  const flows: Array<Record<string, unknown>> = [{ id: "reauthenticate" }];
  if (config.account.passwordResetByCodeEnabled) {
    flows.push({ id: "password_reset_by_code", is_pending: pendingResetOf(session, now) !== null });
  }
  return flows;
}

/** allauth's `methods`: how the session authenticated, `at` in seconds. */
function methodsJson(session: SessionState): Array<Record<string, unknown>> {
  return (session.data.methods ?? []).map((m) => ({ ...m, at: m.at / 1000 }));
}

export interface RenderContext {
  readonly config: ResolvedConfig;
  readonly client: "browser" | "app";
  readonly session: SessionState;
  readonly now: number;
  /** The adapter's `isOpenForSignup` for this request: `signup` is listed only while open. */
  readonly openForSignup: boolean;
}

function meta(ctx: RenderContext, isAuthenticated: boolean): Record<string, unknown> {
  const m: Record<string, unknown> = { is_authenticated: isAuthenticated };
  if (ctx.client === "app" && ctx.session.newToken !== null) {
    m["session_token"] = ctx.session.newToken;
  }
  return m;
}

/** The status and JSON body of an outcome; `body` null is an empty, non-JSON body. */
export function render(outcome: Outcome, ctx: RenderContext): { status: number; body: unknown } {
  switch (outcome.kind) {
    case "session": {
      const user = ctx.session.user;
      if (user !== null) {
        return {
          status: 200,
          body: {
            status: 200,
            data: { user: userJson(user), methods: methodsJson(ctx.session) },
            meta: meta(ctx, true),
          },
        };
      }
      return {
        status: 401,
        body: { status: 401, data: { flows: flowsJson(ctx.config, ctx.session, ctx.now, ctx.openForSignup, ctx.client) }, meta: meta(ctx, false) },
      };
    }
    case "reauthenticate":
      return {
        status: 401,
        body: {
          status: 401,
          data: {
            flows: reauthenticationFlowsJson(ctx.config, ctx.session, ctx.now),
            user: ctx.session.user === null ? null : userJson(ctx.session.user),
            methods: methodsJson(ctx.session),
          },
          meta: meta(ctx, true),
        },
      };
    case "redirect":
      return { status: 302, body: null };
    case "response":
      return { status: outcome.response.status, body: null };
    case "unauthorized":
      return {
        status: outcome.status,
        body: {
          status: outcome.status,
          data: { flows: flowsJson(ctx.config, ctx.session, ctx.now, ctx.openForSignup, ctx.client) },
          meta: { is_authenticated: null },
        },
      };
    case "errors": {
      // A status-only code (409, 429, …) answers with its bare status; Django's unreadable
      // body answers an empty 400.
      const bare = outcome.errors.map((e) => statusFor(e.code)).find((status) => status !== undefined);
      if (bare !== undefined) {
        const empty = outcome.errors.some((e) => e.code === "invalid_json" || e.code === "body_too_large");
        return { status: bare, body: empty ? null : { status: bare } };
      }
      return {
        status: 400,
        body: { status: 400, errors: outcome.errors.flatMap(flatErrors).map((e) => errorFor(e, ctx.config)) },
      };
    }
    case "status":
      return { status: outcome.status, body: { status: outcome.status } };
    case "data":
      return {
        status: outcome.status,
        body: { status: outcome.status, data: outcome.data, ...(outcome.meta === undefined ? {} : { meta: outcome.meta }) },
      };
  }
}
