import { fromPromise } from "xstate";
import type { PromiseActorLogic } from "xstate";

/**
 * The placeholder for a named actor: it fails loudly until the runtime (or a test) provides
 * the real one with `machine.provide({ actors })`.
 */
export function notProvided<TInput, TOutput>(name: string): PromiseActorLogic<TOutput, TInput> {
  return fromPromise<TOutput, TInput>(async () => {
    throw new Error(`not provided: ${name}`);
  });
}
