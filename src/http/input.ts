/**
 * Request bodies: JSON objects of at most 64 KiB, read with a cap before parsing; every field
 * typed, unknown fields refused, `__proto__` and friends impossible (parsed into a null-prototype
 * copy). Errors come back as `{ param, code }` lists; nothing is written before input is valid.
 */
export const maxBodyBytes = 64 * 1024;

export interface InputError {
  readonly code: string;
  readonly param?: string;
}

export interface Field {
  readonly required: boolean;
  readonly maxLength: number;
  /**
   * Strings by default; `boolean` fields arrive as `"true"` / `"false"`, `integers` (an array of
   * at most `maxLength` safe integers) as its JSON text.
   */
  readonly type?: "string" | "boolean" | "integers";
}

export type FieldSpec = Readonly<Record<string, Field>>;

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: ReadonlyArray<InputError> };

async function readCapped(request: Request): Promise<string | null> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBodyBytes) {
    return null;
  }
  if (request.body === null) {
    return "";
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
  return new TextDecoder("utf-8", { fatal: false }).decode(Buffer.concat(chunks));
}

/** Reads the body as one JSON object of string fields matching `spec`. */
export async function readFields<K extends string>(
  request: Request,
  spec: FieldSpec,
): Promise<Parsed<Readonly<Record<K, string | null>>>> {
  const text = await readCapped(request);
  if (text === null) {
    return { ok: false, errors: [{ code: "body_too_large" }] };
  }
  let body: unknown;
  try {
    body = text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    return { ok: false, errors: [{ code: "invalid_json" }] };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, errors: [{ code: "invalid_json" }] };
  }
  const errors: Array<InputError> = [];
  const value: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  for (const key of Object.keys(body)) {
    if (!Object.hasOwn(spec, key)) {
      errors.push({ code: "unknown_field", param: key });
    }
  }
  for (const [name, field] of Object.entries(spec)) {
    const raw = Object.hasOwn(body, name) ? (body as Record<string, unknown>)[name] : undefined;
    if (raw === undefined || raw === null || raw === "") {
      if (field.required) {
        errors.push({ code: "required", param: name });
      }
      value[name] = null;
    } else if (field.type === "integers") {
      if (Array.isArray(raw) && raw.length <= field.maxLength && raw.every((n) => Number.isSafeInteger(n))) {
        value[name] = JSON.stringify(raw);
      } else {
        errors.push({ code: "invalid", param: name });
      }
    } else if (field.type === "boolean") {
      if (typeof raw === "boolean") {
        value[name] = String(raw);
      } else {
        errors.push({ code: "invalid", param: name });
      }
    } else if (typeof raw !== "string") {
      errors.push({ code: "invalid", param: name });
    } else if ([...raw].length > field.maxLength) {
      errors.push({ code: name.endsWith("password") ? "password_too_long" : "max_length", param: name });
    } else {
      value[name] = raw;
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: value as Record<K, string | null> };
}
