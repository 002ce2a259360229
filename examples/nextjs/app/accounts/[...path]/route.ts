/**
 * Next.js App Router, with social login: the providers' callbacks
 * (`/accounts/<provider>/login/callback/`) are served here, beside the API. A provider may post
 * its answer (`response_mode=form_post`), so POST is routed too. The callback path ends in `/`:
 * `skipTrailingSlashRedirect` in ../../../next.config.ts keeps Next from redirecting it away.
 * Paths under `/accounts/` that are not the handler's answer its 404.
 */
import { auth } from "../../../auth.ts";

const handle = (request: Request): Promise<Response> => auth.handler(request);

export const GET = handle;
export const POST = handle;
