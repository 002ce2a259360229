/**
 * `statechartModel` and `statechartSvg` on a small hand-made machine with every kind of state
 * and transition: nesting, parallel regions, the initial marker, final states, guards, delays,
 * eventless transitions and an invoked actor's done and error events.
 */
import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { and, fromPromise, not, setup } from "xstate";
import { statechartModel, statechartSvg } from "../../src/devtools/statechart.ts";
import { attributesOf, drawnStates, drawnTexts, drawnTransitions } from "./svg-tree.ts";

function sampleMachine() {
  return setup({
    guards: { isReady: () => true, isLate: () => false },
    actors: { save: fromPromise(async () => "saved") },
  }).createMachine({
    id: "sample",
    initial: "editing",
    states: {
      editing: {
        on: {
          SAVE: { guard: "isReady", target: "saving" },
          CHECK: "checking",
          TYPE: { actions: () => undefined },
        },
        after: { 5000: { guard: and(["isReady", not("isLate")]), target: "done" } },
      },
      saving: {
        invoke: { src: "save", onDone: "done", onError: "editing" },
      },
      checking: {
        type: "parallel",
        states: {
          spelling: {
            initial: "pending",
            states: {
              pending: { always: { guard: ({ context }) => context === undefined, target: "passed" } },
              passed: { type: "final" },
            },
          },
          links: {
            initial: "pending",
            states: { pending: { on: { LINKS_OK: "passed" } }, passed: { type: "final" } },
          },
        },
        onDone: "editing",
      },
      done: { type: "final" },
    },
  });
}

describe("statechartModel", () => {
  it("reads every state with its parent, kind and initial state from the definition", () => {
    const model = statechartModel(sampleMachine());
    expect(model.id).toBe("sample");
    expect(model.nodes.map((node) => [node.id, node.parent, node.kind])).toEqual([
      ["sample", null, "compound"],
      ["sample.editing", "sample", "atomic"],
      ["sample.saving", "sample", "atomic"],
      ["sample.checking", "sample", "parallel"],
      ["sample.checking.spelling", "sample.checking", "compound"],
      ["sample.checking.spelling.pending", "sample.checking.spelling", "atomic"],
      ["sample.checking.spelling.passed", "sample.checking.spelling", "final"],
      ["sample.checking.links", "sample.checking", "compound"],
      ["sample.checking.links.pending", "sample.checking.links", "atomic"],
      ["sample.checking.links.passed", "sample.checking.links", "final"],
      ["sample.done", "sample", "final"],
    ]);
    const byId = new Map(model.nodes.map((node) => [node.id, node]));
    expect(byId.get("sample")!.initial).toEqual(["sample.editing"]);
    expect(byId.get("sample.checking")!.initial).toEqual([]);
    expect(byId.get("sample.checking.links")!.initial).toEqual(["sample.checking.links.pending"]);
    expect(byId.get("sample.saving")!.invokes).toEqual(["save"]);
    expect(byId.get("sample.editing")!.internal).toEqual([{ event: "TYPE", guard: null }]);
  });

  it("labels transitions for people: events, guards, delays, always, an actor's done and error", () => {
    const model = statechartModel(sampleMachine());
    expect(model.edges.map((edge) => [edge.source, edge.target, edge.labels])).toEqual([
      ["sample.editing", "sample.saving", [{ event: "SAVE", guard: "isReady" }]],
      ["sample.editing", "sample.checking", [{ event: "CHECK", guard: null }]],
      ["sample.editing", "sample.done", [{ event: "after 5s", guard: "isReady && !isLate" }]],
      ["sample.saving", "sample.done", [{ event: "done: save", guard: null }]],
      ["sample.saving", "sample.editing", [{ event: "error: save", guard: null }]],
      ["sample.checking", "sample.editing", [{ event: "done", guard: null }]],
      ["sample.checking.spelling.pending", "sample.checking.spelling.passed", [{ event: "always", guard: "guarded" }]],
      ["sample.checking.links.pending", "sample.checking.links.passed", [{ event: "LINKS_OK", guard: null }]],
    ]);
  });
});

describe("statechartSvg", () => {
  it("nests each state's group in its parent's, inside its parent's box", async () => {
    const states = drawnStates(await statechartSvg(sampleMachine()));
    const model = statechartModel(sampleMachine());
    expect([...states.keys()]).toEqual(model.nodes.map((node) => node.id));
    for (const node of model.nodes) {
      const drawn = states.get(node.id)!;
      expect(drawn.parent, node.id).toBe(node.parent);
      expect(drawn.kind, node.id).toBe(node.kind);
      if (node.parent !== null) {
        const inner = drawn.box;
        const outer = states.get(node.parent)!.box;
        expect(Number(inner["x"]), node.id).toBeGreaterThan(Number(outer["x"]));
        expect(Number(inner["y"]), node.id).toBeGreaterThan(Number(outer["y"]));
        expect(Number(inner["x"]) + Number(inner["width"]), node.id).toBeLessThan(Number(outer["x"]) + Number(outer["width"]));
        expect(Number(inner["y"]) + Number(inner["height"]), node.id).toBeLessThan(Number(outer["y"]) + Number(outer["height"]));
      }
    }
  });

  it("marks the initial state of each compound state, and none in a parallel state", async () => {
    const svg = await statechartSvg(sampleMachine());
    const states = drawnStates(svg);
    const markers = (id: string) => states.get(id)!.ownTags.filter((tag) => tag.includes('class="am-initial"'));
    expect(markers("sample")).toHaveLength(1);
    expect(markers("sample.checking.spelling")).toHaveLength(1);
    expect(markers("sample.checking")).toHaveLength(0);
    expect(markers("sample.editing")).toHaveLength(0);
    const targets = [...svg.matchAll(/<g class="am-initial-transition" data-target="([^"]+)">/g)].map((m) => m[1]);
    expect(targets).toEqual(["sample.editing", "sample.checking.spelling.pending", "sample.checking.links.pending"]);
  });

  it("draws final states with a double border and parallel regions dashed", async () => {
    const states = drawnStates(await statechartSvg(sampleMachine()));
    const rects = (id: string) => states.get(id)!.ownTags.filter((tag) => tag.startsWith("<rect"));
    expect(rects("sample.done")).toHaveLength(2);
    expect(rects("sample.checking.links.passed")).toHaveLength(2);
    expect(rects("sample.editing")).toHaveLength(1);
    expect(states.get("sample.checking.links")!.box["stroke-dasharray"]).toBeDefined();
    expect(states.get("sample.checking")!.box["stroke-dasharray"]).toBeUndefined();
    expect(states.get("sample.editing")!.box["stroke-dasharray"]).toBeUndefined();
  });

  it("labels each arrow with its events and named guards, and lists invokes and targetless events in the state", async () => {
    const svg = await statechartSvg(sampleMachine());
    const arrows = drawnTransitions(svg).map((t) => `${t.source} → ${t.target}: ${t.lines.join(" ")}`);
    expect(arrows).toEqual([
      "sample.editing → sample.saving: SAVE [isReady]",
      "sample.editing → sample.checking: CHECK",
      "sample.editing → sample.done: after 5s [isReady && !isLate]",
      "sample.saving → sample.done: done: save",
      "sample.saving → sample.editing: error: save",
      "sample.checking → sample.editing: done",
      "sample.checking.spelling.pending → sample.checking.spelling.passed: always [guarded]",
      "sample.checking.links.pending → sample.checking.links.passed: LINKS_OK",
    ]);
    const texts = drawnTexts(svg);
    expect(texts).toContain("invoke save");
    expect(texts).toContain("on TYPE");
    expect(texts.filter((text) => text === "isReady")).toEqual([]);
  });

  it("is accessible and self-contained: role img, a title, no ids, styles, scripts, links or fonts", async () => {
    const svg = await statechartSvg(sampleMachine(), { title: "Saving a draft <sample>" });
    expect(svg).toMatch(/^<svg [^>]*role="img"[^>]*>\n {2}<title>Saving a draft &#60;sample&#62;<\/title>\n/);
    expect(svg).toMatch(/^<svg [^>]*aria-label="Saving a draft &#60;sample&#62;"/);
    expect(svg).toMatch(/^<svg [^>]*viewBox="0 0 \d+ \d+"/);
    for (const forbidden of [" id=", "<style", "<script", "href", "url(", "@import", "@font-face", "<image", "<foreignObject"]) {
      expect(svg, forbidden).not.toContain(forbidden);
    }
    expect((await statechartSvg(sampleMachine())).match(/<title>([^<]*)<\/title>/)![1]).toBe("Statechart of the sample machine");
  });

  it("runs the arrows down or right, and keeps the narrower drawing unless told", async () => {
    const widthOf = (svg: string) => Number(/^<svg [^>]*width="(\d+)"/.exec(svg)![1]);
    const markerAndInitial = (svg: string) => {
      const states = drawnStates(svg);
      const marker = attributesOf(states.get("sample")!.ownTags.find((tag) => tag.includes('class="am-initial"'))!);
      const box = states.get("sample.editing")!.box;
      return { cx: Number(marker["cx"]), cy: Number(marker["cy"]), x: Number(box["x"]), y: Number(box["y"]) };
    };
    const down = await statechartSvg(sampleMachine(), { direction: "down" });
    const right = await statechartSvg(sampleMachine(), { direction: "right" });
    const marks = { down: markerAndInitial(down), right: markerAndInitial(right) };
    expect(marks.down.cy).toBeLessThan(marks.down.y);
    expect(marks.down.cx).toBeGreaterThan(marks.down.x);
    expect(marks.right.cx).toBeLessThan(marks.right.x);
    expect(marks.right.cy).toBeGreaterThan(marks.right.y);
    const auto = await statechartSvg(sampleMachine());
    expect(auto).toBe(widthOf(right) < widthOf(down) ? right : down);
  });

  it("draws the same machine to the same bytes, and a changed machine differently", async () => {
    const first = await statechartSvg(sampleMachine());
    const second = await statechartSvg(sampleMachine());
    expect(second).toBe(first);
    const changed = setup({}).createMachine({
      id: "sample",
      initial: "editing",
      states: { editing: { on: { SAVE: "done" } }, done: { type: "final" } },
    });
    expect(await statechartSvg(changed)).not.toBe(first);
  });
});

describe("elkjs", () => {
  const root = new URL("../..", import.meta.url).pathname;

  it("is an optional peer dependency, loaded only when a chart is drawn", () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as Record<string, Record<string, unknown> | undefined>;
    expect(pkg["dependencies"]?.["elkjs"]).toBeUndefined();
    expect(pkg["peerDependencies"]?.["elkjs"]).toBe("^0.12.1");
    expect(pkg["peerDependenciesMeta"]?.["elkjs"]).toEqual({ optional: true });
    const staticImports = (readdirSync(`${root}src`, { recursive: true }) as Array<string>)
      .filter((file) => file.endsWith(".ts"))
      .flatMap((file) =>
        [...readFileSync(`${root}src/${file}`, "utf8").matchAll(/^import (?!type )[^;]*?from "(elkjs[^"]*)"/gm)].map((m) => `${file}: ${m[1]}`),
      );
    expect(staticImports).toEqual([]);
    expect(readFileSync(`${root}src/devtools/statechart.ts`, "utf8")).toContain('importOptional(\n    "elkjs",');
  });
});
