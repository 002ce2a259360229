/**
 * The fuzzer's generators (`fuzz.test.ts`): one generated request is plain data — which route,
 * method, body text, content type and credentials by name — so fast-check can print and shrink
 * it; the credentials are looked up in the live pool only when the request is sent.
 */
import fc from "fast-check";
import { goodPassword } from "../support/harness.ts";

export type ClientKind = "browser" | "app";

/** The API routes of `src/http/handler.ts` (`routes`, `socialRoutes`, `userSessionRoutes`) with the fields each reads. */
export const apiRoutes: Readonly<Record<string, { readonly methods: ReadonlyArray<string>; readonly fields: ReadonlyArray<string> }>> = {
  config: { methods: ["GET"], fields: [] },
  "auth/signup": { methods: ["POST"], fields: ["email", "username", "password", "phone"] },
  "auth/login": { methods: ["POST"], fields: ["email", "username", "password", "phone"] },
  "auth/session": { methods: ["GET", "DELETE"], fields: [] },
  "auth/email/verify": { methods: ["GET", "POST"], fields: ["key"] },
  "auth/email/verify/resend": { methods: ["POST"], fields: [] },
  "account/password/change": { methods: ["POST"], fields: ["current_password", "new_password"] },
  "account/email": { methods: ["GET", "POST", "PUT", "PATCH", "DELETE"], fields: ["email", "primary"] },
  "auth/reauthenticate": { methods: ["POST"], fields: ["password"] },
  "auth/password/request": { methods: ["POST"], fields: ["email"] },
  "auth/code/request": { methods: ["POST"], fields: ["email", "phone"] },
  "auth/code/confirm": { methods: ["POST"], fields: ["code"] },
  "auth/code/resend": { methods: ["POST"], fields: [] },
  "auth/password/reset": { methods: ["GET", "POST"], fields: ["key", "password"] },
  "auth/provider/redirect": { methods: ["POST"], fields: ["provider", "callback_url", "process"] },
  "auth/provider/token": { methods: ["POST"], fields: ["provider", "process", "token"] },
  "auth/provider/signup": { methods: ["GET", "POST"], fields: ["email", "username"] },
  "account/providers": { methods: ["GET", "DELETE"], fields: ["provider", "account"] },
  "auth/sessions": { methods: ["GET", "DELETE"], fields: ["sessions"] },
};

/** The browser pages outside the API (dummy provider page, provider callbacks). */
const pagePaths = [
  "/accounts/dummy/login/",
  "/accounts/github/login/callback/",
  "/accounts/dummy/login/callback/",
  "/accounts/nope/login/callback/",
  "/accounts/%ff/login/callback/",
  "/accounts/__proto__/login/callback/",
] as const;

const unknownPaths = [
  "/",
  "/_allauth/browser/v1/",
  "/_allauth/browser/v2/config",
  "/_allauth/web/v1/config",
  "/_allauth/app/v1/auth",
  "/_allauth/app/v1/auth/login/extra",
  "/_allauth/browser/v1/constructor",
  "/_allauth/browser/v1/__proto__",
  "/_allauth/browser/v1/%2e%2e/config",
  "/_allauth/browser/v1/auth//login",
  "/_allauth/browser/v1/AUTH/LOGIN",
  "/accounts/dummy/login",
  "/accounts/login/callback/",
] as const;

const dummyFields = ["id", "email", "email_verified", "username", "first_name", "last_name", "phone", "phone_verified", "action"];
const allFields = [...new Set([...Object.values(apiRoutes).flatMap((r) => r.fields), ...dummyFields])];

/** Characters that change meaning under normalisation, hide, reorder or are not valid text at all. */
const tricks = [
  "\u0000", // NUL
  "\u202e", // right-to-left override
  "\u200b", // zero-width space
  "\u200d", // zero-width joiner
  "\ufeff", // byte-order mark
  "\ufb01", // "fi" ligature (NFKC: "fi")
  "\uff21", // fullwidth A (NFKC: "A")
  "\u212a", // Kelvin sign (lowercases to "k")
  "\u0130", // dotted capital I (lowercases to two code points)
  "\u00df", // sharp s (uppercases to "SS")
  "\u0430", // Cyrillic a (homoglyph)
  "\u03bf", // Greek omicron (homoglyph)
  "e\u0301", // decomposed é
  "\ud800", // lone high surrogate
  "\udfff", // lone low surrogate
  "\u2028", // line separator
  "\u0085", // next line
  "\r\n",
  "\t",
  "\u001b[31m",
  "\u{1f600}",
  "%00",
  "' OR '1'='1",
  "<script>",
  "../",
];

const plausible = [
  "alice@example.com",
  "bob@example.com",
  "ALICE@EXAMPLE.COM",
  "carol@example.com",
  "alice",
  goodPassword,
  "short",
  "ABCD-EFGH",
  "dummy",
  "github",
  "login",
  "connect",
  "/callback",
  "https://evil.example/",
  "//evil.example/",
  "1",
  "true",
];

const trickyText = fc.array(fc.oneof(fc.constantFrom(...tricks), fc.constantFrom("a", "@", ".", "example.com", " ")), { maxLength: 8 }).map((parts) => parts.join(""));
const trickyEmail = fc.tuple(trickyText, fc.constantFrom("alice", "bob", "x"), fc.constantFrom("example.com", "EXAMPLE.com", "exаmple.com", "example.com.")).map(
  ([trick, local, domain]) => `${local}${trick}@${domain}`,
);
const huge = fc.constantFrom(300, 5_000, 40_000, 100_000).map((n) => "a".repeat(n));

/** A string of any kind: ordinary, any code point, tricks, an email with tricks, plausible, huge. */
export const text: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...plausible) },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  { weight: 3, arbitrary: trickyText },
  { weight: 2, arbitrary: trickyEmail },
  { weight: 1, arbitrary: huge },
);

/** Any JSON value, strings from `text`, numbers out of range and nested containers included. */
export const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 5, arbitrary: text },
    fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 2 ** 53, 1e308)),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...allFields, "__proto__", "constructor", "x"), tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** Raw JSON text for an object with these entries: keys may repeat (`{"email":1,"email":"a"}`). */
function objectText(entries: ReadonlyArray<readonly [string, unknown]>): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value) ?? "null"}`).join(",")}}`;
}

const malformed = fc.oneof(
  fc.constantFrom(
    "{",
    '{"email":',
    '{"email":"a@b.c",}',
    "{'email':'a@b.c'}",
    "[]",
    '["email"]',
    '"email"',
    "1",
    "1e999",
    "null",
    "true",
    '{"a":1}{"b":2}',
    "\ufeff{}",
    "{}\u0000",
    "NaN",
    '{"email":"\\ud800"}',
    '{"__proto__":{"is_active":true},"email":"alice@example.com"}',
    `${"[".repeat(5000)}${"]".repeat(5000)}`,
    `{"a":${'{"a":'.repeat(3000)}1${"}".repeat(3001)}`,
  ),
  // A valid body cut short.
  fc.tuple(fc.string({ maxLength: 30 }), fc.nat(40)).map(([s, n]) => objectText([["email", s], ["password", goodPassword]]).slice(0, n)),
);

export type Body =
  | { readonly kind: "none" }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "bytes"; readonly bytes: ReadonlyArray<number> }
  /** A form; `csrf` names which CSRF token goes in `csrfmiddlewaretoken`. */
  | { readonly kind: "form"; readonly fields: ReadonlyArray<readonly [string, string]>; readonly csrf: CsrfPick | null };

const validEmail = fc.oneof(
  fc.constantFrom("alice@example.com", "bob@example.com", "carol@example.com", "Alice@Example.COM", " alice@example.com "),
  fc.tuple(fc.constantFrom("dave", "ｄave", "dаve", "da\u200bve", "ｅve", "İsa", "straße"), fc.constantFrom("example.com", "exаmple.com", "EXAMPLE.com")).map(([l, d]) => `${l}@${d}`),
  fc.emailAddress(),
);

/** A value meant for one field: mostly its right type and a plausible value, tricks included. */
function fieldValue(field: string): fc.Arbitrary<unknown> {
  switch (field) {
    case "email":
      return validEmail;
    case "username":
      return fc.oneof(fc.constantFrom("alice", "Alice", "ａlice", "alice\u202e", "admin"), fc.string({ minLength: 1, maxLength: 30 }));
    case "password":
    case "current_password":
    case "new_password":
      return fc.oneof(fc.constantFrom(goodPassword, `${goodPassword} `, "short", "password", "\u0000".repeat(20)), fc.string({ minLength: 15, maxLength: 200 }));
    case "key":
    case "code":
      return fc.oneof(fc.constantFrom("ABCD-EFGH", "abcd-efgh", "ABCDEFGH", " ABCD-EFGH "), fc.string({ maxLength: 40 }));
    case "provider":
      return fc.constantFrom("dummy", "github", "nope", "Dummy");
    case "process":
      return fc.constantFrom("login", "connect", "LOGIN", "signup");
    case "callback_url":
      return fc.constantFrom("/callback", "https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)", "http://127.0.0.1/x");
    case "token":
      return fc.record({ client_id: fc.constantFrom("fuzz-client", "x"), id_token: text, access_token: text }, { requiredKeys: [] });
    case "sessions":
    case "account":
      return fc.oneof(fc.array(fc.oneof(fc.integer(), fc.constant("1")), { maxLength: 3 }), text);
    case "primary":
      return fc.oneof(fc.boolean(), fc.constant("true"));
    case "id":
      return fc.oneof(fc.integer({ min: 1, max: 5 }).map(String), text);
    case "email_verified":
    case "phone_verified":
      return fc.constantFrom("true", "false", "on", "");
    case "action":
      return fc.constantFrom("cancel", "login", "");
    default:
      return text;
  }
}

/** Every field of the route, each with a value meant for it (a body that gets past the input). */
function wellFormed(fields: ReadonlyArray<string>): fc.Arbitrary<ReadonlyArray<readonly [string, unknown]>> {
  return fc.tuple(...fields.map((f) => fc.option(fieldValue(f).map((v) => [f, v] as const), { freq: 6 }))).map((entries) => entries.filter((e) => e !== null));
}

function bodyFor(fields: ReadonlyArray<string>): fc.Arbitrary<Body> {
  const names = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...(fields.length === 0 ? ["x"] : fields)) }, fc.constantFrom(...allFields, "__proto__", "constructor"));
  const value = fc.oneof({ weight: 3, arbitrary: text }, { weight: 1, arbitrary: jsonValue });
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant<Body>({ kind: "none" }) },
    { weight: 6, arbitrary: fc.array(fc.tuple(names, value), { maxLength: 6 }).map((entries): Body => ({ kind: "text", text: objectText(entries) })) },
    { weight: 6, arbitrary: wellFormed(fields).map((entries): Body => ({ kind: "text", text: objectText(entries) })) },
    { weight: 1, arbitrary: jsonValue.map((v): Body => ({ kind: "text", text: JSON.stringify(v) ?? "" })) },
    { weight: 2, arbitrary: malformed.map((t): Body => ({ kind: "text", text: t })) },
    {
      weight: 1,
      // Not UTF-8: stray continuation bytes, an overlong NUL, a UTF-16 body.
      arbitrary: fc.constantFrom<ReadonlyArray<number>>([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d], [0x7b, 0xc0, 0x80, 0x7d], [0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]).map(
        (bytes): Body => ({ kind: "bytes", bytes }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.oneof(
            fc.array(fc.tuple(names, text), { maxLength: 6 }),
            wellFormed(fields).map((entries) => entries.map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)] as const)),
          ),
          fc.option(csrfPick, { nil: null }),
        )
        .map(([entries, csrf]): Body => ({ kind: "form", fields: entries, csrf })),
    },
  );
}

/** Which session a request carries, by name (`fuzz.test.ts` resolves it against the pool). */
export type SessionPick =
  | "none"
  | "anonymous"
  | "loggedIn"
  | "pendingSignup"
  | "pendingCode"
  | "dead"
  /** A valid session of the other client kind (an app token as the cookie, a cookie as the token). */
  | "foreign"
  | { readonly garbage: string };

/** Which CSRF token a browser request carries (cookie and header). */
export type CsrfPick =
  /** The cookie the server set for this session, and the same token in the header. */
  | "own"
  | "none"
  | "cookieOnly"
  | "headerOnly"
  /** Cookie and header both from another browser (another session). */
  | "foreign"
  /** The own cookie, but another browser's token in the header. */
  | "mismatch"
  | { readonly garbage: string };

export const sessionPick: fc.Arbitrary<SessionPick> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<SessionPick>("none", "anonymous", "loggedIn", "pendingSignup", "pendingCode", "dead", "foreign") },
  { weight: 1, arbitrary: fc.oneof(text, fc.constantFrom("", " ", "null", "a".repeat(5000))).map((garbage): SessionPick => ({ garbage })) },
);

export const csrfPick: fc.Arbitrary<CsrfPick> = fc.oneof(
  { weight: 10, arbitrary: fc.constant<CsrfPick>("own") },
  { weight: 5, arbitrary: fc.constantFrom<CsrfPick>("none", "cookieOnly", "headerOnly", "foreign", "mismatch") },
  { weight: 1, arbitrary: fc.oneof(text, fc.constant("A".repeat(86))).map((garbage): CsrfPick => ({ garbage })) },
);

export interface FuzzRequest {
  /** `fetch`: `auth.handler` called directly; `node`: over HTTP through `toNodeListener`. */
  readonly channel: "fetch" | "node";
  /** The client in the path (`/_allauth/<client>/v1/`). */
  readonly client: ClientKind;
  readonly method: string;
  /** The path (before the query). */
  readonly path: string;
  readonly query: string;
  readonly body: Body;
  /** `null`: no Content-Type header. */
  readonly contentType: string | null;
  readonly session: SessionPick;
  readonly csrf: CsrfPick;
  /** Another Host than 127.0.0.1 (the URL's), or none. */
  readonly host: string | null;
  /** Headers some endpoints read (the keys of the GET views, proxies' headers, Origin). */
  readonly extra: ReadonlyArray<readonly [string, string]>;
}

const extraHeader = fc.tuple(
  fc.constantFrom("x-email-verification-key", "x-password-reset-key", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "origin", "referer", "accept-language"),
  fc.oneof(text, fc.constantFrom("ABCD-EFGH", "https", "http://evil.example", "1.2.3.4, 5.6.7.8")),
);

const otherMethods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "get", "post", "FOO", "__proto__", "constructor"];
/** What Node's HTTP parser accepts; other methods go straight to the handler. */
export const nodeMethods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | null>("application/json") },
  {
    weight: 4,
    arbitrary: fc.constantFrom<string | null>(
      null,
      "application/x-www-form-urlencoded",
      "text/plain",
      "multipart/form-data; boundary=x",
      "application/json; charset=utf-16",
      "APPLICATION/JSON",
      "application/jsonx",
      "",
    ),
  },
);

const query = fc.oneof(
  { weight: 4, arbitrary: fc.constant("") },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.tuple(fc.constantFrom("key", "state", "code", "error", "provider", "x", "__proto__"), text), { maxLength: 3 })
      .map((pairs) => (pairs.length === 0 ? "" : `?${new URLSearchParams(pairs.map(([k, v]) => [k, v.slice(0, 2000)])).toString()}`)),
  },
  { weight: 1, arbitrary: fc.constantFrom("?", "?state", "?state=&state=x", "?%ff=%fe", "?key=%00", "?state=a%20b#frag") },
);

/** What the request is sent to: an API route of the client (or of the other client), a page, or an unknown path. */
function target(client: ClientKind): fc.Arbitrary<{ path: string; methods: ReadonlyArray<string>; fields: ReadonlyArray<string> }> {
  return fc.oneof(
    {
      weight: 12,
      arbitrary: fc
        .tuple(fc.constantFrom(...Object.keys(apiRoutes)), fc.constantFrom(client, client, client, client === "app" ? "browser" : "app"), fc.boolean())
        .map(([route, kind, slash]) => ({ path: `/_allauth/${kind}/v1/${route}${slash ? "/" : ""}`, ...apiRoutes[route]! })),
    },
    { weight: 2, arbitrary: fc.constantFrom(...pagePaths).map((path) => ({ path, methods: ["GET", "POST"], fields: dummyFields })) },
    { weight: 1, arbitrary: fc.constantFrom(...unknownPaths).map((path) => ({ path, methods: ["GET", "POST"], fields: ["email"] })) },
  );
}

/** One request, mostly aimed at `client`'s routes with their own methods and fields. */
export function fuzzRequest(client: ClientKind): fc.Arbitrary<FuzzRequest> {
  return target(client).chain((t) =>
    fc.record({
      channel: fc.constantFrom<"fetch" | "node">("fetch", "fetch", "fetch", "node"),
      client: fc.constant(client),
      method: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...t.methods) }, { weight: 1, arbitrary: fc.constantFrom(...otherMethods) }),
      path: fc.constant(t.path),
      query,
      body: bodyFor(t.fields),
      contentType,
      session: sessionPick,
      csrf: csrfPick,
      host: fc.oneof({ weight: 20, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom("evil.example", "127.0.0.1:8000", "localhost", "[::1]", "127.0.0.1.evil.example") }),
      extra: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(extraHeader, { maxLength: 3 }) }),
    }),
  );
}
