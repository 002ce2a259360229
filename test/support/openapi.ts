/**
 * Every answer of the HTTP suites checked against allauth's headless OpenAPI document
 * (`../shared/allauth-headless-openapi.yaml` from the repository root) by `openapi-backend`'s
 * response validator (ajv). The document is loaded once per test worker. A status the document
 * does not list for an operation fails the test unless the allow-list below exempts it, with the
 * ALLAUTH-ERRORS.md reason.
 */
import { fileURLToPath } from "node:url";
import OpenAPIBackend from "openapi-backend";
import type { Operation } from "openapi-backend";
import { parse } from "openapi-backend/refparser";

export const specFile = fileURLToPath(new URL("../../../shared/allauth-headless-openapi.yaml", import.meta.url));

export type ApiClient = "browser" | "app";

/** What an exempt answer must look like instead: a bare `{status}`, no body at all, or another operation's answer. */
type Expected =
  | { readonly kind: "bare" }
  | { readonly kind: "empty" }
  | { readonly kind: "as"; readonly operation: string; readonly status: number; readonly unknownUser?: true };

interface Exemption {
  readonly status: number;
  /** Where it applies: every operation when absent. */
  readonly operations?: ReadonlyArray<string>;
  readonly client?: ApiClient;
  readonly expected: Expected;
  /** Why, from ALLAUTH-ERRORS.md. */
  readonly reason: string;
}

const session = "GET /_allauth/{client}/v1/auth/session";

/**
 * Statuses allauth answers that the document does not list for the operation. Everything not
 * here must be one of the operation's listed answers and validate against it.
 */
export const exemptions: ReadonlyArray<Exemption> = [
  {
    status: 400,
    expected: { kind: "empty" },
    // §0 Input parsing: a body that is not JSON (or not UTF-8) gets Django's HttpResponseBadRequest.
    reason: "a body that is not valid JSON gets a bare 400 with an empty, non-JSON body",
  },
  {
    status: 400,
    operations: ["DELETE /_allauth/{client}/v1/auth/sessions"],
    expected: { kind: "as", operation: "POST /_allauth/{client}/v1/account/password/change", status: 400 },
    // §23: SelectSessionsInput answers form errors on `sessions` (required, invalid_list, invalid_choice, invalid_pk_value).
    reason: "ending sessions validates `sessions` and answers the usual 400 error envelope",
  },
  {
    status: 429,
    expected: { kind: "bare" },
    // §0 Default rate limits: RateLimitResponse on every rate-limited endpoint.
    reason: "a consumed rate limit answers {status: 429} (RateLimitResponse) on any limited endpoint",
  },
  {
    status: 403,
    client: "browser",
    expected: { kind: "bare" },
    // §0 Non-JSON failures: a browser request without a CSRF token is refused before the view.
    reason: "a browser request without a valid CSRF token is refused with 403 before the view",
  },
  {
    status: 404,
    expected: { kind: "bare" },
    // §0 Non-JSON failures: a route of an app that is not installed or a feature that is off.
    reason: "an endpoint that is not routed (its app not installed, its feature off) answers 404",
  },
  {
    status: 410,
    client: "app",
    expected: { kind: "as", operation: session, status: 410, unknownUser: true },
    // §0 Authentication-shaped answers: 410 comes back on any app endpoint for a stale token, as
    // UnauthorizedResponse built with user=None, so `meta.is_authenticated` is null (the spec says boolean).
    reason: "an X-Session-Token that no longer maps to a session answers 410 with is_authenticated null on any app endpoint",
  },
  {
    status: 401,
    client: "app",
    expected: { kind: "as", operation: session, status: 401, unknownUser: true },
    // §0 Authentication-shaped answers: UnauthorizedResponse (401) carries `meta.is_authenticated: null`.
    reason: "UnauthorizedResponse is built with user=None: 401 with is_authenticated null",
  },
  {
    status: 401,
    expected: { kind: "as", operation: session, status: 401 },
    // §0 Authentication-shaped answers: AuthenticationResponse / ReauthenticationResponse.
    reason: "an endpoint that needs a (recently) authenticated user answers the session's 401",
  },
  {
    status: 200,
    operations: ["POST /_allauth/{client}/v1/account/password/change"],
    expected: { kind: "as", operation: session, status: 200 },
    // §15: a password change or set answers the authenticated session (200) unless LOGOUT_ON_PASSWORD_CHANGE.
    reason: "a successful password change answers 200 with the authenticated session",
  },
  {
    status: 500,
    expected: { kind: "bare" },
    // §0 allauth's own 500s are bugs; ours is the unexpected-failure answer with no detail.
    reason: "an unexpected failure answers {status: 500} with no detail",
  },
  {
    status: 503,
    expected: { kind: "bare" },
    // DESIGN: the database being unreachable is not a bug of the request.
    reason: "an unreachable database answers {status: 503}",
  },
];

interface Spec {
  readonly api: OpenAPIBackend;
  readonly operations: ReadonlyArray<Operation>;
}

let loading: Promise<Spec> | null = null;

/**
 * Where a schema of the document disagrees with what allauth's code sends (ALLAUTH-ERRORS.md
 * wins), the schema is corrected before validating; each correction says why.
 */
export const corrections: ReadonlyArray<{ readonly reason: string; readonly apply: (schemas: any) => void }> = [
  {
    // §26: a reauthentication appends `{method: "password", reauthenticated: true}`, which matches
    // both the "password" and the "reauthenticated by password" entries: a `oneOf` refuses it.
    reason: "an authentication record may match more than one of the document's variants",
    apply: (schemas) => {
      schemas.AuthenticationMethod = { anyOf: schemas.AuthenticationMethod.oneOf };
    },
  },
  {
    // §26: a link-mode password reset with ACCOUNT_LOGIN_ON_PASSWORD_RESET records `{method: "password_reset"}` only.
    reason: "a link-mode password reset records no email",
    apply: (schemas) => {
      schemas.AuthenticationMethod.anyOf[1].required = ["at", "method"];
    },
  },
  {
    // §26: a social login records `{method: "socialaccount", provider, uid}`: no `reauthenticated`.
    reason: "a social login's record carries no reauthenticated flag",
    apply: (schemas) => {
      schemas.AuthenticationMethod.anyOf[5].required = ["method", "at", "provider", "uid"];
    },
  },
  {
    // §14: with ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED allauth lists `password_reset_by_code` last,
    // `is_pending` true while a code reset is under way and false otherwise.
    reason: "the flow list names password_reset_by_code, with is_pending false when none is under way",
    apply: (schemas) => {
      schemas.Flow.properties.id.enum.push("password_reset_by_code");
      schemas.Flow.properties.is_pending = { type: "boolean" };
    },
  },
];

/** The document as openapi-backend reads it, with the corrections above and fix-ups for the loader. */
async function loadDocument(): Promise<any> {
  const document = (await parse(specFile)) as any;
  // An external `$ref` to allauth's description.md, which is not shipped with the document.
  delete document.info.description;
  // `nullable` beside a `$ref` is not valid OpenAPI 3.0 (it is used by authenticators only).
  document.components.schemas.OptionalTimestamp = { type: "number", nullable: true };
  for (const correction of corrections) {
    correction.apply(document.components.schemas);
  }
  // The document names no operations; openapi-backend's validators are keyed by one.
  for (const [path, item] of Object.entries<any>(document.paths)) {
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      if (item[method] !== undefined) {
        item[method].operationId = `${method.toUpperCase()} ${path}`;
      }
    }
  }
  return document;
}

/** The validator, built once per worker (validators compile lazily, per operation). */
export function loadSpec(options: { readonly quick?: boolean } = {}): Promise<Spec> {
  const build = async (): Promise<Spec> => {
    const api = new OpenAPIBackend({ definition: await loadDocument(), validate: true, strict: true, quick: options.quick ?? true });
    await api.init();
    return { api, operations: api.getOperations() };
  };
  if (options.quick === false) {
    return build();
  }
  loading ??= build();
  return loading;
}

/** The spec's operation for `method` on `/_allauth/<client>/v1/<path>`, or null. */
export async function specOperation(method: string, path: string, client: ApiClient): Promise<Operation | null> {
  const { api } = await loadSpec();
  const pathname = `/_allauth/${client}/v1/${path.split("?")[0]!.replace(/\/+$/, "")}`;
  return api.matchOperation({ method: method.toLowerCase(), path: pathname, headers: {} }) ?? null;
}

/**
 * Fails (throws) when `body`, answered with `status` to `method path` by `client`, is not one of
 * the spec's answers for that operation or an exempt one. `path` is the part after `v1/`. A path
 * or method the spec does not describe (an unknown route answering 404 or 405) is not checked.
 */
export async function validateResponse(method: string, path: string, client: ApiClient, status: number, body: unknown): Promise<void> {
  const operation = await specOperation(method, path, client);
  if (operation === null) {
    return;
  }
  const id = operation.operationId!;
  const listed = Object.hasOwn(operation.responses ?? {}, String(status));
  const failures: Array<string> = [];
  if (listed) {
    try {
      return await check(id, status, body, `${id} → ${status}`);
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  const candidates = exemptions.filter(
    (e) => e.status === status && (e.client === undefined || e.client === client) && (e.operations === undefined || e.operations.includes(id)),
  );
  if (candidates.length === 0 && !listed) {
    throw new Error(`OpenAPI: ${id} answered ${status}, which the spec does not list (it lists ${Object.keys(operation.responses ?? {}).join(", ")}) and no exemption covers:\n${JSON.stringify(body)}`);
  }
  for (const exemption of candidates) {
    try {
      await expectExempt(exemption, body, `${id} → ${status} (exempt: ${exemption.reason})`);
      return;
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  throw new Error(failures.join("\n"));
}

async function expectExempt(exemption: Exemption, body: unknown, label: string): Promise<void> {
  const expected = exemption.expected;
  if (expected.kind === "empty") {
    if (body !== null) {
      throw new Error(`OpenAPI: ${label} should have no body, got ${JSON.stringify(body)}`);
    }
    return;
  }
  if (expected.kind === "bare") {
    if (JSON.stringify(body) !== JSON.stringify({ status: exemption.status })) {
      throw new Error(`OpenAPI: ${label} should be {"status":${exemption.status}}, got ${JSON.stringify(body)}`);
    }
    return;
  }
  let checked = body;
  if (expected.unknownUser === true) {
    const meta = (body as { meta?: { is_authenticated?: unknown } } | null)?.meta;
    if (meta?.is_authenticated !== null) {
      throw new Error(`OpenAPI: ${label} should have meta.is_authenticated null, got ${JSON.stringify(body)}`);
    }
    // Checked with `false` in its place: null is what allauth sends, the rest must match.
    checked = { ...(body as object), meta: { ...meta, is_authenticated: false } };
  }
  await check(expected.operation, expected.status, checked, `${label}, checked as ${expected.operation} → ${expected.status}`);
}

async function check(operationId: string, status: number, body: unknown, label: string): Promise<void> {
  const { api } = await loadSpec();
  const result = api.validateResponse(body, operationId, status);
  if (!result.valid || (result.errors ?? []).length > 0) {
    const errors = (result.errors ?? []).map((e) => `  ${e.instancePath || "/"} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
    throw new Error(`OpenAPI: ${label} does not match the spec:\n${errors.join("\n")}\nbody: ${JSON.stringify(body)}`);
  }
}

/**
 * `validateResponse` for a full pathname. Pages outside the API (`/accounts/…`: the providers'
 * callbacks, the dummy provider's page) and other API versions are not in the spec: not checked.
 */
export async function validateApiResponse(method: string, pathname: string, status: number, body: unknown): Promise<void> {
  const api = /^\/_allauth\/(browser|app)\/v1\/(.*)$/.exec(pathname.split("?")[0]!);
  if (api === null) {
    return;
  }
  return validateResponse(method, api[2]!, api[1] as ApiClient, status, body);
}
