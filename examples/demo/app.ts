/**
 * The demo app: the allauth headless API on a SQLite file and a one-page frontend served at
 * `/` and at the default `frontendUrls` paths, so the links in the verification and reset mails
 * open it (`/account/verify-email/{key}`, `/account/password/reset/key/{key}`). Outside production
 * it offers the `dummy` provider: its page (`/accounts/dummy/login/`) stands in for a provider's
 * login, and the social login comes back to `/account/provider/callback`.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAuth, toNodeListener } from "authmachines";
import type { Auth, AuthConfig } from "authmachines";

export interface DemoOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly database: string;
  readonly mailer: NonNullable<AuthConfig["mailer"]>;
  readonly secret: string;
}

export interface Demo {
  readonly auth: Auth;
  readonly server: Server;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly close: () => Promise<void>;
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const auth = await createAuth({
    secret: options.secret,
    database: options.database,
    mailer: options.mailer,
    account: { loginMethods: ["email"], emailVerification: "mandatory", loginOnEmailConfirmation: true },
    // The dummy provider is refused when NODE_ENV is "production"; the demo then offers none.
    ...(process.env["NODE_ENV"] === "production" ? {} : { socialaccount: { providers: [{ type: "dummy" }] } }),
  });
  const page = readFileSync(new URL("./index.html", import.meta.url));
  const api = toNodeListener(auth.handler);
  const server = createServer((req, res) => {
    // The API, and the browser routes outside it (the dummy provider's page, providers' callbacks).
    if (req.url?.startsWith("/_allauth/") || req.url?.startsWith("/accounts/")) {
      void api(req, res);
      return;
    }
    // One page for `/` and every frontend URL; it reads the key from the path.
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.setHeader("referrer-policy", "no-referrer");
    res.end(page);
  });
  await new Promise<void>((resolve) => server.listen(options.port, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    auth,
    server,
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await auth.close();
    },
  };
}
