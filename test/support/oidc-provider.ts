/**
 * A real OpenID Connect identity provider for tests: oidc-provider 9 on 127.0.0.1 (random port),
 * PKCE required, client_secret_post, `email`/`email_verified` in the ID token. Its development
 * login and consent pages are driven over fetch with a cookie jar, as a browser would.
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type JWK, SignJWT, exportJWK, generateKeyPair } from "jose";
import * as oc from "openid-client";

export interface TestClient {
  readonly clientId: string;
  readonly secret: string;
  readonly redirectUris: ReadonlyArray<string>;
}

export type TestAccount = Readonly<Record<string, unknown>>;

export interface IdentityProvider {
  readonly issuer: string;
  close(): Promise<void>;
  /** Runs the provider's login and consent as `account`; resolves to our callback URL (code, state, iss). */
  signIn(authorizationUrl: string, who: { readonly account: string }): Promise<URL>;
  /** Aborts at the provider's login page; resolves to the callback URL with `error=access_denied`. */
  cancel(authorizationUrl: string): Promise<URL>;
  /** A genuine ID token for `account`, obtained by a full code flow as a mobile app would. */
  idTokenFor(account: string, options: { readonly clientId: string; readonly nonce?: string }): Promise<string>;
  /** Signs arbitrary claims with the provider's own key (expired or otherwise odd tokens). */
  sign(claims: Readonly<Record<string, unknown>>): Promise<string>;
}

/** oidc-provider announces an unsupported Node version and its development defaults; tests need neither. */
function silenceProviderNotices(): void {
  for (const level of ["warn", "info"] as const) {
    const original = console[level];
    if ((original as { silenced?: boolean }).silenced) continue;
    const filtered = (...args: Array<unknown>) => {
      if (typeof args[0] === "string" && /oidc-provider (WARNING|NOTICE)/.test(args[0])) return;
      original(...args);
    };
    console[level] = Object.assign(filtered, { silenced: true });
  }
}

class Browser {
  readonly #jar = new Map<string, string>();
  constructor(private readonly issuer: string) {}

  async go(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#jar.size > 0) headers.set("cookie", [...this.#jar].map(([k, v]) => `${k}=${v}`).join("; "));
    const response = await fetch(new URL(url, this.issuer), { ...init, headers, redirect: "manual" });
    for (const cookie of response.headers.getSetCookie()) {
      const pair = cookie.split(";")[0]!;
      const at = pair.indexOf("=");
      this.#jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return response;
  }

  post(url: string, form: Record<string, string>): Promise<Response> {
    return this.go(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form) });
  }
}

function locationOf(response: Response, issuer: string): URL {
  const location = response.headers.get("location");
  if (location === null) {
    throw new Error(`the identity provider answered ${response.status} without a redirect`);
  }
  return new URL(location, issuer);
}

/** Follows the provider's redirects, answering its interactions, until it leaves for the client. */
async function drive(issuer: string, authorizationUrl: string, answer: (browser: Browser, interaction: URL) => Promise<Response>): Promise<URL> {
  const browser = new Browser(issuer);
  let response = await browser.go(authorizationUrl);
  for (let step = 0; step < 10; step += 1) {
    const next = locationOf(response, issuer);
    if (next.origin !== new URL(issuer).origin) {
      return next;
    }
    response = next.pathname.startsWith("/interaction/") ? await answer(browser, next) : await browser.go(next.href);
  }
  throw new Error("the identity provider kept redirecting");
}

export async function startIdentityProvider(options: {
  readonly clients: ReadonlyArray<TestClient>;
  readonly accounts: Readonly<Record<string, TestAccount>>;
}): Promise<IdentityProvider> {
  silenceProviderNotices();
  const { default: Provider } = await import("oidc-provider");
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: "test-key", alg: "RS256", use: "sig" };
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: options.clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.secret,
      redirect_uris: [...c.redirectUris],
      token_endpoint_auth_method: "client_secret_post",
    })),
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "given_name", "family_name", "preferred_username"] },
    conformIdTokenClaims: false,
    async findAccount(_context: unknown, sub: string) {
      const account = options.accounts[sub];
      return account && { accountId: sub, claims: async () => ({ sub, ...account }) };
    },
    pkce: { required: () => true },
    cookies: { keys: ["test-cookie-key-for-the-identity-provider"] },
    jwks: { keys: [jwk] },
  });
  const handle = provider.callback();
  server.on("request", (request: IncomingMessage, response: ServerResponse) => handle(request, response));

  const signIn = (authorizationUrl: string, who: { readonly account: string }) =>
    drive(issuer, authorizationUrl, async (browser, interaction) => {
      const page = await (await browser.go(interaction.href)).text();
      return page.includes('name="login"')
        ? browser.post(interaction.href, { prompt: "login", login: who.account, password: "any" })
        : browser.post(interaction.href, { prompt: "consent" });
    });

  return {
    issuer,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    signIn,
    cancel: (authorizationUrl) => drive(issuer, authorizationUrl, (browser, interaction) => browser.go(`${interaction.pathname}/abort`)),
    async idTokenFor(account, { clientId, nonce }) {
      const client = options.clients.find((c) => c.clientId === clientId);
      if (client === undefined) throw new Error(`unknown test client ${clientId}`);
      const config = await oc.discovery(new URL(issuer), clientId, client.secret, oc.ClientSecretPost(client.secret), { execute: [oc.allowInsecureRequests] });
      const verifier = oc.randomPKCECodeVerifier();
      const state = oc.randomState();
      const expectedNonce = nonce ?? oc.randomNonce();
      const url = oc.buildAuthorizationUrl(config, {
        redirect_uri: client.redirectUris[0]!,
        scope: "openid email profile",
        state,
        nonce: expectedNonce,
        code_challenge: await oc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
      });
      const callback = await signIn(url.href, { account });
      const tokens = await oc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce });
      if (tokens.id_token === undefined) throw new Error("no ID token");
      return tokens.id_token;
    },
    sign: (claims) => new SignJWT({ ...claims }).setProtectedHeader({ alg: "RS256", kid: "test-key" }).sign(privateKey),
  };
}
