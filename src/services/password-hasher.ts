/**
 * Password hashing. The default is argon2id with OWASP's first parameter set (19 MiB, t=2, p=1)
 * on the libuv thread pool. Passwords are NFKC-normalised before hashing and verifying.
 * `dummyVerify` costs what a real verification costs; it answers unknown accounts.
 */
import { hash as argonHash, verify as argonVerify } from "@node-rs/argon2";
import { Context, Effect, Layer } from "effect";

export interface PasswordHasherShape {
  readonly hash: (password: string) => Effect.Effect<string>;
  readonly verify: (hash: string, password: string) => Effect.Effect<boolean>;
  /** Spends one verification on a throwaway hash, so unknown accounts take as long. */
  readonly dummyVerify: (password: string) => Effect.Effect<void>;
}

/** OWASP Password Storage Cheat Sheet, argon2id option 1. */
export const argon2idParameters = { memoryCost: 19456, timeCost: 2, parallelism: 1, algorithm: 2 } as const;

/** The marker stored for users without a usable password (never a hash of ""). */
export const unusablePasswordPrefix = "!";

export class PasswordHasher extends Context.Tag("authmachines/services/PasswordHasher")<
  PasswordHasher,
  PasswordHasherShape
>() {
  static readonly layerArgon2id: Layer.Layer<PasswordHasher> = Layer.effect(
    PasswordHasher,
    Effect.gen(function* () {
      const dummy = yield* Effect.promise(() => argonHash("authmachines-dummy", argon2idParameters));
      const verify = (stored: string, password: string): Effect.Effect<boolean> =>
        stored.startsWith("$argon2")
          ? Effect.promise(() => argonVerify(stored, password.normalize("NFKC"))).pipe(
              Effect.catchAllDefect(() => Effect.succeed(false)),
            )
          : Effect.succeed(false);
      return {
        hash: (password) => Effect.promise(() => argonHash(password.normalize("NFKC"), argon2idParameters)),
        verify,
        dummyVerify: (password) => Effect.asVoid(verify(dummy, password)),
      };
    }),
  );

  /** A user-supplied `{ hash, verify }`. */
  static layerCustom(hasher: {
    hash(password: string): Promise<string>;
    verify(hash: string, password: string): Promise<boolean>;
  }): Layer.Layer<PasswordHasher> {
    return Layer.effect(
      PasswordHasher,
      Effect.gen(function* () {
        const dummy = yield* Effect.promise(() => hasher.hash("authmachines-dummy"));
        const verify = (stored: string, password: string): Effect.Effect<boolean> =>
          stored.startsWith(unusablePasswordPrefix)
            ? Effect.succeed(false)
            : Effect.promise(() => hasher.verify(stored, password.normalize("NFKC")));
        return {
          hash: (password) => Effect.promise(() => hasher.hash(password.normalize("NFKC"))),
          verify,
          dummyVerify: (password) => Effect.asVoid(verify(dummy, password)),
        };
      }),
    );
  }
}
