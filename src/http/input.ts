/**
 * Request bodies, read as allauth's headless inputs (Django forms over `json.loads`) read them:
 * - an empty body (or JSON `null`) is `{}`; a body that is not UTF-8 JSON, not an object, or
 *   larger than 64 KiB gets Django's bare 400 (`invalid_json` / `body_too_large` in the table);
 * - only the fields of the spec are read, in the spec's order (the input's field order, which is
 *   the order of the errors); any other key is ignored and never reaches a flow;
 * - Django's empty values (`null`, `""`, `[]`, `{}`) count as missing; text fields are stripped
 *   as `CharField` strips them (passwords are only stripped to decide whether they are empty);
 * - a field that is read but has the wrong JSON type is `invalid` (IV-01), an over-long one
 *   gets Django's `max_length` with the limit and the length, and text holding NUL Django's
 *   `null_characters_not_allowed`.
 * Parsing is into a null-prototype copy, so `__proto__` and friends cannot pollute anything.
 */
import type { FlowError } from "../../machines/errors.ts";

export const maxBodyBytes = 64 * 1024;

export type InputError = FlowError;

export interface Field {
  readonly required: boolean;
  readonly maxLength: number;
  /**
   * Strings by default (`password` keeps its surrounding spaces); `boolean` fields arrive as
   * `"true"` (false counts as missing, as Django's required BooleanField has it); `integers` (a
   * list of at most `maxLength` ids, as numbers, or the Python text of a value that names no id)
   * as its JSON text.
   */
  readonly type?: "string" | "password" | "boolean" | "integers";
  /** The field's own validator (Django's `EmailField`…): true when the text is acceptable. */
  readonly valid?: (value: string) => boolean;
}

export type FieldSpec = Readonly<Record<string, Field>>;

export type Parsed<T> =
  | {
      readonly ok: true;
      readonly value: T;
      /** The spec's fields the body carried as keys at all, empty or not (allauth's `key in data`). */
      readonly keys: ReadonlySet<string>;
    }
  | { readonly ok: false; readonly errors: ReadonlyArray<InputError> };

/** Bodies read ahead by the handler (`bufferBody`): null for one past `maxBodyBytes`. */
const buffered = new WeakMap<Request, Uint8Array | null>();

/**
 * Reads the whole body (capped) before the request's session is read, so the session a step
 * starts from is no older than the body it acts on; the endpoint's readers then use these bytes.
 */
export async function bufferBody(request: Request): Promise<void> {
  if (request.body !== null && !buffered.has(request)) {
    buffered.set(request, await readStream(request));
  }
}

function readCapped(request: Request): Promise<Uint8Array | null> {
  const bytes = buffered.get(request);
  return bytes === undefined ? readStream(request) : Promise.resolve(bytes);
}

async function readStream(request: Request): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBodyBytes) {
    return null;
  }
  if (request.body === null) {
    return new Uint8Array();
  }
  const reader = request.body.getReader();
  const chunks: Array<Uint8Array> = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    total += value.byteLength;
    if (total > maxBodyBytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** The body as text (UTF-8, invalid bytes replaced), or null past `maxBodyBytes`. */
export async function readText(request: Request): Promise<string | null> {
  const bytes = await readCapped(request);
  return bytes === null ? null : new TextDecoder().decode(bytes);
}

/** The body as one JSON object (null-prototype), or why not. */
export async function readObject(request: Request): Promise<Record<string, unknown> | "invalid_json" | "body_too_large"> {
  const bytes = await readCapped(request);
  if (bytes === null) {
    return "body_too_large";
  }
  if (bytes.byteLength === 0) {
    return {};
  }
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return "invalid_json";
  }
  if (body === null) {
    return {};
  }
  if (typeof body !== "object" || Array.isArray(body)) {
    return "invalid_json";
  }
  return body as Record<string, unknown>;
}

/** Django's empty values: missing, `null`, `""`, `[]`, `{}`. */
export function isEmpty(raw: unknown): boolean {
  return (
    raw === undefined ||
    raw === null ||
    raw === "" ||
    (Array.isArray(raw) && raw.length === 0) ||
    (typeof raw === "object" && raw !== null && !Array.isArray(raw) && Object.keys(raw).length === 0)
  );
}

/** Python's `str()` of a JSON value, as Django shows it in `invalid_pk_value`. */
function pythonText(raw: unknown): string {
  if (typeof raw === "string") {
    return raw;
  }
  if (typeof raw === "boolean") {
    return raw ? "True" : "False";
  }
  return raw === null ? "None" : JSON.stringify(raw);
}

type Read = { readonly value: string } | { readonly error: FlowError } | null;

function readField(name: string, field: Field, raw: unknown): Read {
  switch (field.type) {
    case "integers": {
      // Django's ModelMultipleChoiceField: a list, each pk usable in a query (else
      // `invalid_pk_value`); what names no row is the endpoint's `invalid_choice`, so values that
      // can never be an id (null, booleans, fractions) pass on as their Python text.
      if (!Array.isArray(raw) || raw.length > field.maxLength) {
        return { error: { code: "invalid_list", param: name } };
      }
      const items: Array<number | string> = [];
      for (const item of raw) {
        if (typeof item === "string" && /^\s*[+-]?\d+\s*$/.test(item) && Number.isSafeInteger(Number(item))) {
          items.push(Number(item));
        } else if (typeof item === "number" && Number.isSafeInteger(item)) {
          items.push(item);
        } else if (item === null || typeof item === "boolean" || typeof item === "number") {
          items.push(pythonText(item));
        } else {
          return { error: { code: "invalid_pk_value", param: name, details: { value: pythonText(item) } } };
        }
      }
      return { value: JSON.stringify(items) };
    }
    case "boolean":
      if (raw === false) {
        return null;
      }
      return raw === true ? { value: "true" } : { error: { code: "invalid", param: name } };
    default: {
      if (typeof raw !== "string") {
        return { error: { code: "invalid", param: name } };
      }
      const value = field.type === "password" ? raw : raw.trim();
      if (raw.trim() === "") {
        return null;
      }
      const length = [...value].length;
      if (length > field.maxLength) {
        return { error: { code: "max_length", param: name, details: { limit: field.maxLength, length } } };
      }
      if (field.valid !== undefined && !field.valid(value)) {
        return { error: { code: "invalid", param: name } };
      }
      if (value.includes("\u0000")) {
        // Django's CharField refuses NUL in any text, passwords and codes included (and
        // PostgreSQL cannot store it in a text column).
        return { error: { code: "null_characters_not_allowed", param: name } };
      }
      return { value };
    }
  }
}

/**
 * Every field of `spec` (in its order) as read, with the errors of those that failed (their
 * value is then null): for an input that goes on to clean the good fields too. A body that is
 * not one JSON object is `{ bad }`.
 */
export async function readEach<K extends string>(
  request: Request,
  spec: FieldSpec,
): Promise<
  | { readonly bad: InputError }
  | { readonly value: Readonly<Record<K, string | null>>; readonly keys: ReadonlySet<string>; readonly errors: ReadonlyArray<InputError> }
> {
  const body = await readObject(request);
  if (typeof body === "string") {
    return { bad: { code: body } };
  }
  const errors: Array<InputError> = [];
  const value: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  const keys = new Set<string>();
  for (const [name, field] of Object.entries(spec)) {
    const raw = Object.hasOwn(body, name) ? body[name] : undefined;
    if (Object.hasOwn(body, name)) {
      keys.add(name);
    }
    const read = isEmpty(raw) ? null : readField(name, field, raw);
    value[name] = read !== null && "value" in read ? read.value : null;
    if (read === null && field.required) {
      errors.push({ code: "required", param: name });
    } else if (read !== null && "error" in read) {
      errors.push(read.error);
    }
  }
  return { value: value as Record<K, string | null>, keys, errors };
}

/** Reads the fields of `spec` (in its order) from the body; other keys are ignored. */
export async function readFields<K extends string>(
  request: Request,
  spec: FieldSpec,
): Promise<Parsed<Readonly<Record<K, string | null>>>> {
  const read = await readEach<K>(request, spec);
  if ("bad" in read) {
    return { ok: false, errors: [read.bad] };
  }
  return read.errors.length > 0 ? { ok: false, errors: read.errors } : { ok: true, value: read.value, keys: read.keys };
}
