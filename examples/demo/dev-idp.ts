/**
 * The demo's development OpenID provider ("Dev IdP"): oidc-provider in-process on 127.0.0.1
 * (a free port), with its own plain login and consent pages. Anyone may sign in as one of a few
 * dev people by typing their username; there is no password. The demo registers it as an
 * `openid_connect` provider whose redirect URI is the demo's own callback.
 */
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";

/** The people you can be at the Dev IdP, by username. */
export const devPeople: Readonly<Record<string, { readonly email: string; readonly email_verified: boolean; readonly name: string }>> = {
  alice: { email: "alice@example.com", email_verified: true, name: "Alice Liddell" },
  bob: { email: "bob@example.com", email_verified: true, name: "Bob Builder" },
  carol: { email: "carol@example.com", email_verified: false, name: "Carol Danvers" },
};

export interface DevIdp {
  readonly issuer: string;
  readonly clientId: string;
  readonly secret: string;
  close(): Promise<void>;
}

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** One page of the Dev IdP: plain HTML, labelled fields, readable at 360 px. */
function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Dev IdP</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 0 auto; padding: 1rem; color: #1a1a1a; }
  header { border-bottom: 2px solid #5b2a86; margin-bottom: 1rem; }
  form { display: grid; gap: .6rem; }
  input, button { font: inherit; padding: .5rem; }
  button { background: #5b2a86; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
  button.secondary { background: #fff; color: #5b2a86; border: 1px solid #5b2a86; }
  .hint { color: #444; }
</style></head>
<body><header><p><strong>Dev IdP</strong> — a development identity provider</p></header>
<main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

function loginPage(uid: string, error: string): string {
  const people = Object.entries(devPeople)
    .map(([username, person]) => `<li><code>${escape(username)}</code> — ${escape(person.name)}, ${escape(person.email)}${person.email_verified ? "" : " (unverified)"}</li>`)
    .join("");
  return page(
    "Sign in to Dev IdP",
    `<p class="hint" id="people-hint">Type the username of one of these dev people (no password needed):</p>
<ul>${people}</ul>
<form method="post" action="/interaction/${escape(uid)}">
  <input type="hidden" name="prompt" value="login">
  <label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" required aria-describedby="people-hint${error ? " username-error" : ""}"${error ? ' aria-invalid="true"' : ""}>
  ${error ? `<p id="username-error" role="alert">${escape(error)}</p>` : ""}
  <button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit" class="secondary">Cancel</button></form>`,
  );
}

function consentPage(uid: string, who: string): string {
  return page(
    "Share your details?",
    `<p>The authmachines demo asks to know who you are: your name and your email address (signed in as <strong>${escape(who)}</strong>).</p>
<form method="post" action="/interaction/${escape(uid)}"><input type="hidden" name="prompt" value="consent"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit" class="secondary">Cancel</button></form>`,
  );
}

async function formOf(request: IncomingMessage): Promise<URLSearchParams> {
  let body = "";
  for await (const chunk of request) body += chunk;
  return new URLSearchParams(body);
}

/** oidc-provider announces its development defaults and Node versions; the demo needs neither. */
function quietProviderNotices(): void {
  for (const level of ["warn", "info"] as const) {
    const original = console[level];
    if ((original as { quiet?: boolean }).quiet) continue;
    const filtered = (...args: Array<unknown>) => {
      if (typeof args[0] === "string" && /oidc-provider (WARNING|NOTICE)/.test(args[0])) return;
      original(...args);
    };
    console[level] = Object.assign(filtered, { quiet: true });
  }
}

/** Starts the Dev IdP with one client whose redirect URIs are `redirectUris`. */
export async function startDevIdp(options: { readonly redirectUris: ReadonlyArray<string> }): Promise<DevIdp> {
  quietProviderNotices();
  const { default: Provider } = await import("oidc-provider");
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "dev-idp", alg: "RS256", use: "sig" };
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = "authmachines-demo";
  const secret = "dev-idp-client-secret-for-the-demo-only";
  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: secret, redirect_uris: [...options.redirectUris], token_endpoint_auth_method: "client_secret_post" }],
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    async findAccount(_context: unknown, sub: string) {
      const person = devPeople[sub];
      return person && { accountId: sub, claims: async () => ({ sub, ...person }) };
    },
    pkce: { required: () => true },
    cookies: { keys: ["dev-idp-cookie-key-for-the-demo-only"] },
    jwks: { keys: [jwk] },
  });
  const callback = provider.callback();

  const interact = async (request: IncomingMessage, response: ServerResponse, uid: string, action: string): Promise<void> => {
    const details = await provider.interactionDetails(request, response);
    if (action === "abort") {
      await provider.interactionFinished(request, response, { error: "access_denied", error_description: "End-User aborted interaction" }, { mergeWithLastSubmission: false });
      return;
    }
    if (request.method === "POST") {
      const form = await formOf(request);
      if (form.get("prompt") === "login" && details.prompt.name === "login") {
        const username = (form.get("username") ?? "").trim().toLowerCase();
        if (devPeople[username] === undefined) {
          const known = Object.keys(devPeople).join(", ");
          return send(response, 200, loginPage(uid, `No dev person is called “${username}”. Try one of: ${known}.`));
        }
        await provider.interactionFinished(request, response, { login: { accountId: username } }, { mergeWithLastSubmission: false });
        return;
      }
      if (form.get("prompt") === "consent" && details.prompt.name === "consent") {
        const grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
        const granted = grant ?? new provider.Grant({ accountId: details.session?.accountId ?? "", clientId: String(details.params["client_id"]) });
        const missingScope = details.prompt.details["missingOIDCScope"] as ReadonlyArray<string> | undefined;
        const missingClaims = details.prompt.details["missingOIDCClaims"] as ReadonlyArray<string> | undefined;
        if (missingScope) granted.addOIDCScope(missingScope.join(" "));
        if (missingClaims) granted.addOIDCClaims(missingClaims);
        await provider.interactionFinished(request, response, { consent: { grantId: await granted.save() } }, { mergeWithLastSubmission: true });
        return;
      }
    }
    if (details.prompt.name === "login") return send(response, 200, loginPage(uid, ""));
    return send(response, 200, consentPage(uid, details.session?.accountId ?? ""));
  };

  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/abort)?$/.exec(new URL(request.url ?? "/", issuer).pathname);
    if (match === null) return callback(request, response);
    interact(request, response, match[1]!, match[2] ? "abort" : "show").catch((error: unknown) => {
      send(response, 400, page("Sign-in expired", `<p>This sign-in is no longer valid (${escape(String((error as Error).message ?? error))}). Go back to the demo and start again.</p>`));
    });
  });

  return {
    issuer,
    clientId,
    secret,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function send(response: ServerResponse, status: number, html: string): void {
  response.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  response.end(html);
}
