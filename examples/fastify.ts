/**
 * Fastify 5: the allauth headless API under `basePath` (`/_allauth`), served by the Node listener
 * on Fastify's raw request and response.
 *
 *   app.register(async (api) => {
 *     api.removeAllContentTypeParsers();
 *     api.addContentTypeParser("*", (_request, _payload, done) => done(null));
 *     api.all("/_allauth/*", (request, reply) => { reply.hijack(); return listener(request.raw, reply.raw); });
 *   });
 *
 * Inside that plugin no parser reads the body, so the handler reads the raw stream itself (JSON,
 * and the form a provider redirect posts); the app's routes outside it keep Fastify's parsers.
 * `reply.hijack()` tells Fastify the listener writes the answer.
 */
import Fastify from "fastify";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { toNodeListener } from "authmachines";
import type { Auth } from "authmachines";

export async function createApp(auth: Auth): Promise<FastifyInstance> {
  const app = Fastify();
  const listener = toNodeListener(auth.handler);

  await app.register(async (api) => {
    // Leave every body unread (encapsulated: only this plugin's routes).
    api.removeAllContentTypeParsers();
    api.addContentTypeParser("*", (_request, _payload, done) => done(null));
    const serve = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      if (!auth.handler.owns(request.url.split("?")[0]!)) {
        return reply.callNotFound();
      }
      reply.hijack();
      await listener(request.raw, reply.raw);
    };
    api.all(`${auth.config.basePath}/*`, serve);
    // The providers' callbacks, with social login (other paths under it are the app's 404).
    api.all("/accounts/*", serve);
  });

  // A route of the app's own: who is logged in, from the session cookie (or X-Session-Token).
  app.get("/me", async (request, reply) => {
    const session = await auth.getSession(request);
    if (session === null) {
      return reply.code(401).send({ error: "not logged in" });
    }
    return { email: session.user.email };
  });
  return app;
}
