import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { authSignalNames } from "../machines/signals.ts";
import { machines } from "../machines/index.ts";

const root = new URL("..", import.meta.url).pathname;

function importsOf(file: string): Array<string> {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)[^"']*?from\s+["']([^"']+)["']/gm)].map((m) => m[1]!);
}

describe("layout", () => {
  it("keeps machines/ pure: it imports only xstate and sibling machine files", () => {
    const files = readdirSync(join(root, "machines")).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      for (const specifier of importsOf(join(root, "machines", file))) {
        expect(specifier === "xstate" || /^\.\/[a-z-]+\.ts$/.test(specifier), `${file} imports ${specifier}`).toBe(true);
      }
    }
  });

  it("uses no ambient clock or randomness in machines/ and src/", () => {
    const offenders: Array<string> = [];
    for (const dir of ["machines", "src"]) {
      for (const file of readdirSync(join(root, dir), { recursive: true }) as Array<string>) {
        if (file.endsWith(".ts")) {
          const text = readFileSync(join(root, dir, file), "utf8");
          // `new Date(ms)` only formats a time read from the runtime's Clock; `new Date()` reads the wall clock.
          if (/Date\.now\(|new Date\(\)|Math\.random\(/.test(text)) {
            offenders.push(`${dir}/${file}`);
          }
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it("gives every flow one slug in machines/, src/actors/ and test/", () => {
    for (const slug of Object.keys(machines)) {
      for (const path of [`machines/${slug}.ts`, `src/actors/${slug}.ts`, `test/machines/${slug}.test.ts`]) {
        expect(() => readFileSync(join(root, path)), path).not.toThrow();
      }
    }
  });

  it("catalogues all fifteen allauth signals", () => {
    expect(new Set(authSignalNames).size).toBe(15);
  });
});
