/**
 * Next.js App Router: the allauth headless API at `/_allauth/…`. A folder whose name starts with
 * `_` is private in the App Router (no route), so this one is named `%5Fallauth`, which Next
 * serves as `/_allauth`.
 *
 * Each method hands Next's request (a fetch `Request`) to the handler; the client IP comes from
 * `X-Forwarded-For` (`trustedProxyCount: 1` in ../../../auth.ts).
 */
import { auth } from "../../../auth.ts";

const handle = (request: Request): Promise<Response> => auth.handler(request);

export const GET = handle;
export const POST = handle;
export const PUT = handle;
export const PATCH = handle;
export const DELETE = handle;
