/**
 * Reads the drawing of `statechartSvg` back for the tests: which state group sits inside which,
 * each state's box, and each transition's label lines. A tiny scanner over the tags the drawing
 * writes, not a general SVG parser.
 */

export interface DrawnState {
  readonly id: string;
  readonly kind: string;
  /** The state group this one is nested in, null at the top. */
  readonly parent: string | null;
  /** The attributes of its `am-state-box`. */
  readonly box: Readonly<Record<string, string>>;
  /** Every tag directly in its group (not in a nested state), as written. */
  readonly ownTags: ReadonlyArray<string>;
}

export interface DrawnTransition {
  readonly source: string;
  readonly target: string;
  readonly lines: ReadonlyArray<string>;
}

export function attributesOf(tag: string): Record<string, string> {
  return Object.fromEntries([...tag.matchAll(/([\w:-]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

const unescape = (text: string): string => text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));

export function drawnStates(svg: string): ReadonlyMap<string, DrawnState> {
  const states = new Map<string, { id: string; kind: string; parent: string | null; box: Record<string, string>; ownTags: Array<string> }>();
  const stack: Array<string | null> = [];
  const current = (): string | null => [...stack].reverse().find((entry) => entry !== null) ?? null;
  for (const match of svg.matchAll(/<\/g>|<[a-z]+\b[^>]*>/g)) {
    const tag = match[0];
    if (tag === "</g>") {
      stack.pop();
      continue;
    }
    const attributes = attributesOf(tag);
    const owner = current();
    if (tag.startsWith("<g") && attributes["class"] === "am-state") {
      const id = attributes["data-state"]!;
      states.set(id, { id, kind: attributes["data-kind"]!, parent: owner, box: {}, ownTags: [] });
      stack.push(id);
      continue;
    }
    if (owner !== null && stack[stack.length - 1] === owner) {
      const state = states.get(owner)!;
      state.ownTags.push(tag);
      if (attributes["class"] === "am-state-box") {
        state.box = attributes;
      }
    }
    if (tag.startsWith("<g")) {
      stack.push(null);
    }
  }
  return states;
}

export function drawnTransitions(svg: string): ReadonlyArray<DrawnTransition> {
  return [...svg.matchAll(/<g class="am-transition"([^>]*)>([\s\S]*?)<\/g>/g)].map((match) => {
    const attributes = attributesOf(match[1]!);
    return {
      source: unescape(attributes["data-source"]!),
      target: unescape(attributes["data-target"]!),
      lines: [...match[2]!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((text) => unescape(text[1]!)),
    };
  });
}

/** Every text drawn, unescaped. */
export function drawnTexts(svg: string): ReadonlyArray<string> {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((text) => unescape(text[1]!));
}
