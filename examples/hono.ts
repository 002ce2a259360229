/**
 * Hono 4 on Node (`@hono/node-server`): the allauth headless API under `basePath` (`/_allauth`),
 * called with Hono's fetch `Request` and the connection's address as the client IP.
 *
 *   app.use((c, next) => auth.handler.owns(c.req.path) ? auth.handler(c.req.raw, { ip: c.env.incoming.socket.remoteAddress }) : next());
 *
 * `owns` covers `basePath` and, with social login, the `/accounts/…` pages (the providers'
 * callbacks); `app.all("/_allauth/*", …)` is enough without social login.
 */
import { Hono } from "hono";
import type { HttpBindings } from "@hono/node-server";
import type { Auth } from "authmachines";

type Env = { Bindings: HttpBindings };

export function createApp(auth: Auth): Hono<Env> {
  const app = new Hono<Env>();
  app.use(async (c, next) => {
    if (!auth.handler.owns(c.req.path)) {
      return next();
    }
    const ip = c.env.incoming.socket.remoteAddress;
    return auth.handler(c.req.raw, ip === undefined ? {} : { ip });
  });

  // A route of the app's own: who is logged in, from the session cookie (or X-Session-Token).
  app.get("/me", async (c) => {
    const session = await auth.getSession(c.req.raw);
    if (session === null) {
      return c.json({ error: "not logged in" }, 401);
    }
    return c.json({ email: session.user.email });
  });
  return app;
}
