/**
 * Optional packages (a database driver, nodemailer) are imported only when the configuration
 * needs them. A missing one fails with the command that installs it.
 */

/** Whether `error` says that `specifier` itself (not one of its own imports) is not installed. */
function isMissing(error: unknown, specifier: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (
    (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") &&
    typeof message === "string" &&
    message.includes(`'${specifier}'`)
  );
}

/**
 * `import()` of an optional peer dependency. `load` is the import itself (so bundlers and the
 * type checker see the specifier); `packages` are what to install for `purpose`.
 */
export async function importOptional<T>(
  specifier: string,
  load: () => Promise<T>,
  purpose: string,
  packages: ReadonlyArray<string>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isMissing(error, specifier)) {
      throw Object.assign(
        new Error(`${purpose} needs the package ${specifier}, which is not installed: run npm install ${packages.join(" ")}`),
        { code: "ERR_MISSING_OPTIONAL_PACKAGE", cause: error },
      );
    }
    throw error;
  }
}
