/**
 * A value that must not be logged, serialised or shown in the inspector: a password on its way
 * from an event to the actor that hashes it. `JSON.stringify` and `String()` print a marker.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The wrapped value; only actors that hash or compare call this. */
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return "<redacted>";
  }
  toString(): string {
    return "<redacted>";
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "Secret(<redacted>)";
  }
}
