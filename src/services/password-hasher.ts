/**
 * Password hashing. The default is argon2id with OWASP's first parameter set (19 MiB, t=2, p=1)
 * on the libuv thread pool. Passwords are NFKC-normalised before hashing and verifying.
 * `dummyVerify` costs what a real verification costs; it answers unknown accounts. A hash made
 * with other parameters is re-hashed with today's at the next password login.
 */
import { hash as argonHash, verify as argonVerify } from "@node-rs/argon2";
import { Context, Effect, Layer } from "effect";

export interface PasswordHasherShape {
  readonly hash: (password: string) => Effect.Effect<string>;
  readonly verify: (hash: string, password: string) => Effect.Effect<boolean>;
  /** Spends one verification on a throwaway hash, so unknown accounts take as long. */
  readonly dummyVerify: (password: string) => Effect.Effect<void>;
  /** Whether a stored hash was made with other parameters than today's (a login re-hashes it). */
  readonly needsRehash: (stored: string) => boolean;
}

/** OWASP Password Storage Cheat Sheet, argon2id option 1. */
export const argon2idParameters = { memoryCost: 19456, timeCost: 2, parallelism: 1, algorithm: 2 } as const;

/** How every hash made with today's parameters begins (PHC string up to the salt). */
const currentPrefix = `$argon2id$v=19$m=${argon2idParameters.memoryCost},t=${argon2idParameters.timeCost},p=${argon2idParameters.parallelism}$`;

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
        needsRehash: (stored) => stored.startsWith("$argon2") && !stored.startsWith(currentPrefix),
      };
    }),
  );

  /** A user-supplied `{ hash, verify }` (its hashes are never re-hashed at login). */
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
          needsRehash: () => false,
        };
      }),
    );
  }
}
