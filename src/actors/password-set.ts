/** Actors of the `password-set` machine. */
import type { ResolvedConfig } from "../config.ts";
import type { Step } from "../runtime/step.ts";
import { passwordFlowActors } from "./password-flow.ts";

export function passwordSetActors(step: Step, config: ResolvedConfig) {
  return passwordFlowActors(step, config, "password_set");
}
