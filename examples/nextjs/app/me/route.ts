/** A route of the app's own (`/me`): who is logged in, from the session cookie (or X-Session-Token). */
import { auth } from "../../auth.ts";

export async function GET(request: Request): Promise<Response> {
  const session = await auth.getSession(request);
  if (session === null) {
    return Response.json({ error: "not logged in" }, { status: 401 });
  }
  return Response.json({ email: session.user.email });
}
