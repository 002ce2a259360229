/**
 * SECURITY.md coverage (issue #10): every item of the checklist beside the project
 * (`../shared/SECURITY.md`) is named by a test that checks it, or by a line of the README's
 * "Security checklist: what does not apply here" section saying why it does not apply.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const checklist = readFileSync(join(root, "..", "shared", "SECURITY.md"), "utf8");
const ids = [...checklist.matchAll(/^- \*\*([A-Z]{2}-\d{2})\b/gm)].map((match) => match[1]!);

function testFiles(dir: string): Array<string> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? testFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
  );
}

const tests = testFiles(join(root, "test"))
  .filter((file) => !file.endsWith("checklist.test.ts"))
  .map((file) => readFileSync(file, "utf8"))
  .join("\n");
const readme = readFileSync(join(root, "README.md"), "utf8");
const heading = "## Security checklist: what does not apply here";
const notApplicable = readme.includes(heading) ? readme.slice(readme.indexOf(heading)).split(/\n## /)[0]! : "";

describe("SECURITY.md: every item has a test or a reason", () => {
  it("finds the checklist's items", () => {
    expect(ids.length).toBeGreaterThan(100);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("names each item in a test, or in the README's list of items that do not apply", () => {
    const missing = ids.filter((id) => !new RegExp(`\\b${id}\\b`).test(tests) && !new RegExp(`\\b${id}\\b`).test(notApplicable));
    expect(missing).toEqual([]);
  });
});
