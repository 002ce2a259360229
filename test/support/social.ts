/**
 * Social flows end to end: a real OpenID provider (`oidc-provider` on 127.0.0.1) and a harness
 * whose browser client can post the provider redirect form and follow the round trip — to the
 * provider, back to our callback, and on to the frontend's `callback_url`.
 */
import type { CreateAuthOptions } from "../../src/auth.ts";
import type { AuthConfig } from "../../src/config.ts";
import { forgetClients } from "../../src/social/client.ts";
import { harness } from "./harness.ts";
import type { Client, Harness } from "./harness.ts";
import { validateApiResponse } from "./openapi.ts";
import { startIdentityProvider } from "./oidc-provider.ts";
import type { IdentityProvider, TestAccount } from "./oidc-provider.ts";

export const clientId = "authmachines-test";
export const clientSecret = "test-client-secret-0123456789abcdef";
/** The callback the harness's requests (on http://127.0.0.1) give the provider. */
export const callbackUri = "http://127.0.0.1/accounts/devidp/login/callback/";
/** The frontend page the round trip ends on. */
export const frontendCallback = "/account/provider/callback";

export const people: Readonly<Record<string, TestAccount>> = {
  alice: { email: "alice@example.com", email_verified: true, name: "Alice Liddell", preferred_username: "alice" },
  bob: { email: "bob@example.com", email_verified: false, given_name: "Bob", family_name: "Builder" },
  carol: { email: "carol@example.com", email_verified: true, preferred_username: "carol" },
  nomail: { name: "No Mail" },
};

/** The provider with `accounts` (read at each claim: a test may change a person between logins). */
export async function startProvider(accounts: Readonly<Record<string, TestAccount>> = people): Promise<IdentityProvider> {
  forgetClients();
  return startIdentityProvider({ clients: [{ clientId, secret: clientSecret, redirectUris: [callbackUri] }], accounts });
}

/** The `socialaccount` config naming `idp` as `devidp`, plus the dummy provider. */
export function socialConfig(idp: IdentityProvider, social: NonNullable<AuthConfig["socialaccount"]> = {}): NonNullable<AuthConfig["socialaccount"]> {
  return {
    ...social,
    providers: [
      { id: "devidp", type: "openid_connect", name: "Dev IdP", clientId, secret: clientSecret, serverUrl: idp.issuer },
      { type: "dummy" },
      ...(social.providers ?? []),
    ],
  };
}

export async function socialHarness(
  idp: IdentityProvider,
  config: Partial<AuthConfig> = {},
  social: NonNullable<AuthConfig["socialaccount"]> = {},
  options: CreateAuthOptions = {},
) {
  return harness({ ...config, socialaccount: socialConfig(idp, social) }, options);
}

/** A request outside the API (the callback, the dummy page) with the browser client's cookies. */
export async function visit(h: Harness, client: Client, url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
  const method = init.method ?? (init.form === undefined ? "GET" : "POST");
  const headers: Record<string, string> = { "user-agent": "vitest", cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
  if (init.form !== undefined) {
    headers["content-type"] = "application/x-www-form-urlencoded";
  }
  const response = await h.auth.handler(
    new Request(new URL(url, "http://127.0.0.1"), {
      method,
      headers,
      ...(init.form === undefined ? {} : { body: new URLSearchParams(init.form).toString() }),
    }),
    { ip: "10.0.0.1" },
  );
  await h.auth.outbox.settled();
  // The API's answers (the provider redirect) are checked against the spec; its pages are not in it.
  const json = (response.headers.get("content-type") ?? "").startsWith("application/json");
  const text = json ? await response.clone().text() : "";
  await validateApiResponse(method, new URL(url, "http://127.0.0.1").pathname, response.status, text === "" ? null : JSON.parse(text));
  for (const cookie of response.headers.getSetCookie()) {
    const [pair] = cookie.split(";");
    const at = pair!.indexOf("=");
    const name = pair!.slice(0, at);
    if (/Max-Age=0/.test(cookie)) {
      client.cookies.delete(name);
    } else {
      client.cookies.set(name, pair!.slice(at + 1));
    }
  }
  return response;
}

/** Posts the provider redirect form; resolves to where it sends the browser. */
export async function startRedirect(
  h: Harness,
  client: Client,
  fields: { provider?: string; process?: string; callback_url?: string } = {},
): Promise<URL> {
  if (!client.cookies.has("csrftoken")) {
    await client.request("GET", "config");
  }
  const response = await visit(h, client, "/_allauth/browser/v1/auth/provider/redirect", {
    form: {
      provider: fields.provider ?? "devidp",
      process: fields.process ?? "login",
      callback_url: fields.callback_url ?? frontendCallback,
      csrfmiddlewaretoken: client.cookies.get("csrftoken") ?? "",
    },
  });
  if (response.status !== 302) {
    throw new Error(`the redirect form answered ${response.status}`);
  }
  return new URL(response.headers.get("location")!, "http://127.0.0.1");
}

/** Where a response redirects (relative locations stay relative), or null. */
export function locationOf(response: Response): string | null {
  return response.headers.get("location");
}

/** A browser round trip as `account` up to our callback's answer (whatever it is). */
export async function socialCallback(h: Harness, client: Client, idp: IdentityProvider, account: string, process = "login"): Promise<Response> {
  const authorization = await startRedirect(h, client, { process });
  const back = await idp.signIn(authorization.href, { account });
  return visit(h, client, back.pathname + back.search);
}

/** A whole browser round trip as `account`: redirect, provider login, our callback. Resolves to the final location. */
export async function socialRoundTrip(h: Harness, client: Client, idp: IdentityProvider, account: string, process = "login"): Promise<string> {
  const response = await socialCallback(h, client, idp, account, process);
  expect302(response);
  return locationOf(response)!;
}

/** The app's `POST auth/provider/token` with a genuine ID token for `account`. */
export async function providerToken(client: Client, idp: IdentityProvider, account: string, process = "login") {
  const idToken = await idp.idTokenFor(account, { clientId });
  return client.request("POST", "auth/provider/token", { provider: "devidp", process, token: { client_id: clientId, id_token: idToken } });
}

function expect302(response: Response): void {
  if (response.status !== 302) {
    throw new Error(`the callback answered ${response.status}`);
  }
}
