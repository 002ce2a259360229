/**
 * Express 5: the allauth headless API under `basePath` (`/_allauth`), the app's routes beside it.
 *
 *   app.use(toNodeListener(auth.handler));
 *
 * Mount it before `express.json()`: the handler then reads the body itself, and a body that is not
 * JSON (a provider redirect form) or not valid JSON gets allauth's answer. Mounted after a global
 * `express.json()` it works too: the listener takes the parsed `req.body`.
 */
import express from "express";
import type { Express } from "express";
import { toNodeListener } from "authmachines";
import type { Auth } from "authmachines";

/** The app, on `app` when given one (with its own middleware already in place). */
export function createApp(auth: Auth, app: Express = express()): Express {
  // Serves the paths `auth.handler.owns(…)`, and hands every other one to `next()`.
  app.use(toNodeListener(auth.handler));
  app.use(express.json());

  // A route of the app's own: who is logged in, from the session cookie (or X-Session-Token).
  app.get("/me", async (req, res) => {
    const session = await auth.getSession(req);
    if (session === null) {
      res.status(401).json({ error: "not logged in" });
      return;
    }
    res.json({ email: session.user.email });
  });
  return app;
}
