/** `GET auth/session` and `DELETE auth/session` (logout). */
import { logoutMachine } from "../../machines/logout.ts";
import { logoutActors } from "../actors/logout.ts";
import { flowSettings } from "../config.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Exchange } from "./exchange.ts";

export async function getSession(exchange: Exchange): Promise<Response> {
  return exchange.respond({ kind: "session" });
}

export async function deleteSession(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  return exchange.step(async (step) => {
    const machine = withActors(logoutMachine, logoutActors(step));
    const { snapshot } = await runMachine(step, machine, {
      input: { settings: flowSettings(config), sessionUser: step.session.user },
      event: { type: "LOGOUT" },
    });
    if (snapshot.hasTag("failed")) {
      throw new Error("logout failed");
    }
    return { kind: "session" };
  });
}
