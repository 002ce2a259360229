/**
 * The demo app: the allauth headless API on a SQLite file, a development OpenID provider
 * ("Dev IdP", in-process on loopback) and the `dummy` provider for social login, a mailbox that
 * keeps every mail sent, and plain pages for every flow (`public/`, served under `/static/`: one
 * HTML shell, a few small vanilla JS modules, a stylesheet). The mails' links open the demo's
 * pages: the default `frontendUrls` (`/account/verify-email/{key}`,
 * `/account/password/reset/key/{key}`) are pages.
 *
 * allauth mails either links or codes for email verification and password reset, never both,
 * so the demo runs in one `mode`: "link" (default) or "code" (`DEMO_MODE=code npm start`).
 * Login by code is on in both. Outside production, the live flow view (`authmachines/devtools`)
 * is mounted at `/flows`: every machine's statechart with the states of the latest flows, and
 * every signal as it is emitted.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createAuth, toNodeListener } from "authmachines";
import { createFlowView } from "authmachines/devtools";
import type { AccountConfig, Auth, AuthConfig } from "authmachines";
import { startDevIdp } from "./dev-idp.ts";
import type { DevIdp } from "./dev-idp.ts";
import { createMailbox, renderMailbox } from "./mailbox.ts";
import type { Mailbox } from "./mailbox.ts";

export type DemoMode = "link" | "code";

export interface DemoOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly database: string;
  readonly secret: string;
  /** Where mails go besides the mailbox page (default: only the mailbox, printed to the console). */
  readonly mailer?: Exclude<NonNullable<AuthConfig["mailer"]>, string>;
  /** Quiet (tests): the mailbox does not print mails, and the authentication log is not printed. */
  readonly quiet?: boolean;
  /** Verification and reset by link (default) or by code. */
  readonly mode?: DemoMode;
  /** Account settings over the demo's (tests shorten `reauthenticationTimeout`). */
  readonly account?: AccountConfig;
  /** Extra `createAuth` options. */
  readonly createAuthOptions?: Parameters<typeof createAuth>[1];
}

export interface Demo {
  readonly auth: Auth;
  readonly server: Server;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly mode: DemoMode;
  readonly mailbox: Mailbox;
  readonly idp: DevIdp;
  readonly close: () => Promise<void>;
}

const publicFile = (name: string) => readFileSync(new URL(`./public/${name}`, import.meta.url), "utf8");

/** The pages' paths (everything else outside the API is a 404 page). */
const pagePaths = [
  /^\/$/,
  /^\/signup$/,
  /^\/login$/,
  /^\/login\/code$/,
  /^\/verify-email$/,
  /^\/account\/verify-email\/[^/]+$/,
  /^\/account\/password\/reset$/,
  /^\/account\/password\/reset\/code$/,
  /^\/account\/password\/reset\/key\/[^/]+$/,
  /^\/account\/password$/,
  /^\/account\/email$/,
  /^\/account\/providers$/,
  /^\/account\/sessions$/,
  /^\/account\/provider\/callback$/,
  /^\/account\/provider\/signup$/,
  /^\/account\/signup$/,
  /^\/reauthenticate$/,
  /^\/logout$/,
];

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const mode = options.mode ?? "link";
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const idp = await startDevIdp({
    redirectUris: [`${origin}/accounts/devidp/login/callback/`, `http://localhost:${port}/accounts/devidp/login/callback/`],
  });
  const mailbox = createMailbox({ print: options.quiet !== true });
  // The flow view shows users' emails and ids, and refuses production: the demo leaves it out there.
  const view = process.env["NODE_ENV"] === "production" ? null : createFlowView({ basePath: "/flows" });
  const extra = options.mailer;
  const auth = await createAuth(
    {
      secret: options.secret,
      database: options.database,
      siteName: "authmachines demo",
      ...(options.quiet ? { logger: { error: console.error, warn: console.warn, info: () => {} } } : {}),
      mailer: {
        async send(mail, delivery) {
          await mailbox.mailer.send(mail, delivery);
          if (extra !== undefined) await extra.send(mail, delivery);
        },
      },
      account: {
        loginMethods: ["email"],
        emailVerification: "mandatory",
        loginOnEmailConfirmation: true,
        loginByCodeEnabled: true,
        emailVerificationByCodeEnabled: mode === "code",
        emailVerificationSupportsResend: mode === "code",
        passwordResetByCodeEnabled: mode === "code",
        reauthenticationRequired: true,
        ...options.account,
      },
      usersessions: true,
      socialaccount: {
        providers: [
          // `prompt=login`: the Dev IdP asks who you are every time, so you can pick another person.
          { id: "devidp", type: "openid_connect", name: "Dev IdP", clientId: idp.clientId, secret: idp.secret, serverUrl: idp.issuer, authParams: { prompt: "login" } },
          // The dummy provider is refused when NODE_ENV is "production".
          ...(process.env["NODE_ENV"] === "production" ? [] : [{ type: "dummy" as const }]),
        ],
      },
    },
    // An inspector the caller gives replaces the flow view's (which then shows signals only).
    { ...options.createAuthOptions, inspect: options.createAuthOptions?.inspect ?? view?.inspect },
  );
  view?.attach(auth);
  const flows = view === null ? null : toNodeListener(view.handler);
  const api = toNodeListener(auth.handler);
  const shell = publicFile("index.html").replace("<body>", view === null ? "<body>" : '<body data-flows="on">');
  const assets = Object.fromEntries(
    ["demo.js", "ui.js", "pages-auth.js", "pages-account.js", "demo.css"].map((name) => [
      `/static/${name}`,
      { type: name.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8", body: publicFile(name) },
    ]),
  );
  const html = (response: ServerResponse, status: number, main: string) => {
    response.writeHead(status, { "content-type": "text/html; charset=utf-8", "referrer-policy": "no-referrer", "cache-control": "no-store" });
    response.end(shell.replace("<!--main-->", main));
  };

  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const { pathname } = new URL(request.url ?? "/", origin);
    if (auth.handler.owns(pathname)) {
      void api(request, response);
      return;
    }
    if (flows !== null && view!.owns(pathname)) {
      void flows(request, response);
      return;
    }
    const asset = assets[pathname];
    if (asset !== undefined) {
      response.writeHead(200, { "content-type": asset.type, "cache-control": "no-store" });
      response.end(asset.body);
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET" }).end();
      return;
    }
    if (pathname === "/mailbox") {
      html(response, 200, renderMailbox(mailbox));
      return;
    }
    if (pagePaths.some((path) => path.test(pathname))) {
      html(response, 200, "");
      return;
    }
    html(response, 404, `<h1>Page not found</h1><p>There is no page at this address. <a href="/">Go to the start page</a>.</p>`);
  });

  return {
    auth,
    server,
    origin,
    mode,
    mailbox,
    idp,
    close: async () => {
      view?.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await idp.close();
      await auth.close();
    },
  };
}
