/** `GET|DELETE auth/sessions`: the user's sessions, and ending some of them. */
import { Clock } from "effect";
import { userSessionsMachine } from "../../machines/user-sessions.ts";
import { userSessionsActors } from "../actors/user-sessions.ts";
import { flowSettings } from "../config.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Step } from "../runtime/step.ts";
import { listUserSessions } from "../storage/sessions.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import type { Outcome } from "./responses.ts";

async function sessionList(step: Step, trackActivity: boolean): Promise<Outcome> {
  const now = await step.run(Clock.currentTimeMillis);
  const rows = await step.run(listUserSessions(step.session.user!.id, now));
  return {
    kind: "data",
    status: 200,
    // allauth sends `last_seen_at` only when it tracks activity.
    data: rows.map((row) => ({
      user_agent: row.user_agent,
      ip: row.ip,
      created_at: Number(row.created_at) / 1000,
      is_current: row.id === step.session.id,
      id: Number(row.public_id),
      ...(trackActivity ? { last_seen_at: Number(row.last_seen_at) / 1000 } : {}),
    })),
  };
}

export async function userSessions(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const trackActivity = config.usersessions?.trackActivity === true;
  const session = await exchange.loadSession();
  if (session.user === null) {
    return exchange.respond({ kind: "session" }, session);
  }
  if (exchange.request.method === "GET") {
    return exchange.step((step) => sessionList(step, trackActivity));
  }
  const input = await readFields<"sessions">(exchange.request, {
    sessions: { required: true, maxLength: 100, type: "integers" },
  });
  if (!input.ok) {
    return exchange.respond({ kind: "errors", errors: input.errors }, session);
  }
  const items = JSON.parse(input.value.sessions!) as Array<number | string>;
  // Django's `invalid_choice`: the first value that names none of the user's sessions.
  const now = await runtime.runPromise(Clock.currentTimeMillis);
  const mine = new Set(
    (await runtime.runPromise(listUserSessions(session.user.id, now))).map((row) => Number(row.public_id)),
  );
  const foreign = items.find((item) => typeof item !== "number" || !mine.has(item));
  if (foreign !== undefined) {
    return exchange.respond(
      { kind: "errors", errors: [{ code: "invalid_choice", param: "sessions", details: { value: String(foreign) } }] },
      session,
    );
  }
  const sessionIds = items as Array<number>;
  return exchange.step(async (step) => {
    const machine = withActors(userSessionsMachine, userSessionsActors(step));
    const { snapshot } = await runMachine(step, machine, {
      input: { settings: flowSettings(config), sessionUser: step.session.user, currentSessionId: step.session.publicId },
      event: { type: "END", sessionIds },
    });
    if (snapshot.hasTag("failed")) {
      throw new Error("ending sessions failed");
    }
    return snapshot.value === "done" ? sessionList(step, trackActivity) : { kind: "session" };
  });
}
