/**
 * The committed diagrams in docs/diagrams/ (drawn by `npm run diagrams`): one per machine of the
 * catalogue, none left over, each up to date with its machine, each showing every state, event,
 * invoked actor and named guard of its machine, and each shown in the README.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { AnyStateNode } from "xstate";
import { beforeAll, describe, expect, it } from "vitest";
import { machines } from "../../machines/index.ts";
import { diagramsDir, diagramTitle } from "../../scripts/draw-diagrams.ts";
import { statechartSvg } from "../../src/devtools/statechart.ts";
import { guardName } from "../../src/devtools/statechart-model.ts";
import { drawnStates, drawnTexts } from "./svg-tree.ts";

const root = new URL("../..", import.meta.url).pathname;
const dir = join(root, diagramsDir);
const redraw = "run `npm run diagrams` and commit docs/diagrams/";
const slugs = Object.keys(machines) as Array<keyof typeof machines>;

const drawn = new Map<string, string>();
beforeAll(async () => {
  for (const slug of slugs) {
    drawn.set(slug, await statechartSvg(machines[slug], { title: diagramTitle(slug) }));
  }
});

function statesOf(node: AnyStateNode): ReadonlyArray<AnyStateNode> {
  return [node, ...Object.values(node.states).flatMap((child) => statesOf(child as AnyStateNode))];
}

describe("committed diagrams", () => {
  it("has one diagram per machine and none without a machine", () => {
    const files = existsSync(dir) ? readdirSync(dir).filter((file) => file.endsWith(".svg")) : [];
    const missing = slugs.filter((slug) => !files.includes(`${slug}.svg`));
    const orphans = files.filter((file) => !(file.slice(0, -".svg".length) in machines));
    expect(missing, `machines without a diagram: ${redraw}`).toEqual([]);
    expect(orphans, `diagrams without a machine: ${redraw} (it removes them)`).toEqual([]);
  });

  it.each(slugs)("%s.svg is up to date with its machine", (slug) => {
    const path = join(dir, `${slug}.svg`);
    expect(existsSync(path), `${diagramsDir}/${slug}.svg is missing: ${redraw}`).toBe(true);
    const committed = readFileSync(path, "utf8");
    if (committed !== drawn.get(slug)) {
      expect.fail(`${diagramsDir}/${slug}.svg is stale (the machine changed since it was drawn): ${redraw}`);
    }
  });

  it.each(slugs)("%s.svg shows every state, event, invoked actor and named guard of its machine", (slug) => {
    const svg = drawn.get(slug)!;
    const machine = machines[slug];
    const states = drawnStates(svg);
    const texts = new Set(drawnTexts(svg));
    const lines = drawnTexts(svg).join("\n");
    const nodes = statesOf(machine.root);
    expect(nodes.length).toBeGreaterThan(2);
    for (const node of nodes) {
      expect(states.has(node.id), `state ${node.id}`).toBe(true);
      expect(states.get(node.id)!.parent, `parent of ${node.id}`).toBe(node.parent?.id ?? null);
      expect(texts.has(node.parent === undefined ? node.id : node.key), `name of ${node.id}`).toBe(true);
      for (const event of Object.keys(node.config.on ?? {})) {
        expect(texts.has(event) || texts.has(`on ${event}`), `event ${event} of ${node.id}`).toBe(true);
      }
      for (const invoke of node.invoke) {
        const src = typeof invoke.src === "string" ? invoke.src : invoke.id;
        expect(texts.has(`invoke ${src}`), `invoke ${src} in ${node.id}`).toBe(true);
        if (node.transitions.has(`xstate.done.actor.${invoke.id}`)) {
          expect(texts.has(`done: ${src}`), `done: ${src} from ${node.id}`).toBe(true);
        }
        if (node.transitions.has(`xstate.error.actor.${invoke.id}`)) {
          expect(texts.has(`error: ${src}`), `error: ${src} from ${node.id}`).toBe(true);
        }
      }
      if ((node.always ?? []).length > 0) {
        expect(texts.has("always"), `always from ${node.id}`).toBe(true);
      }
      const guards = [...[...node.transitions.values()].flat(), ...(node.always ?? [])]
        .map((transition) => transition.guard)
        .filter((guard) => typeof guard === "string" || (typeof guard === "object" && guard !== null));
      for (const guard of guards) {
        expect(lines, `guard of ${node.id}`).toContain(`[${guardName(guard)}]`);
      }
    }
  });

  it("shows every diagram in the README, with how to redraw them", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    for (const slug of slugs) {
      expect(readme, slug).toContain(`](${diagramsDir}/${slug}.svg)`);
    }
    expect(readme).toContain("npm run diagrams");
  });
});
