/**
 * Draws one SVG statechart per flow machine into docs/diagrams/<slug>.svg (`npm run diagrams`),
 * and removes any diagram whose machine is gone. test/devtools/diagrams.test.ts fails when a
 * committed diagram no longer matches its machine.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { machines } from "../machines/index.ts";
import { statechartSvg } from "../src/devtools/statechart.ts";

/** Where the diagrams live, from the repository's root. */
export const diagramsDir = "docs/diagrams";

/** The accessible title of a flow's diagram. */
export function diagramTitle(slug: string): string {
  return `Statechart of the ${slug} flow`;
}

async function main(): Promise<void> {
  const dir = fileURLToPath(new URL(`../${diagramsDir}/`, import.meta.url));
  mkdirSync(dir, { recursive: true });
  for (const [slug, machine] of Object.entries(machines)) {
    const svg = await statechartSvg(machine, { title: diagramTitle(slug) });
    writeFileSync(join(dir, `${slug}.svg`), svg);
    console.log(`${diagramsDir}/${slug}.svg`);
  }
  for (const file of readdirSync(dir)) {
    if (file.endsWith(".svg") && !(file.slice(0, -".svg".length) in machines)) {
      rmSync(join(dir, file));
      console.log(`removed ${diagramsDir}/${file}`);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
