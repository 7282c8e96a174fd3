/**
 * AUTOMATIC1111 prompt editing and alternation (`modules/prompt_parser.py`,
 * `get_learned_conditioning_prompt_schedules`), for one prompt:
 *
 *   [from:to:when]   "from" until step `when`, then "to"
 *   [to:when]        nothing, then "to" after step `when`
 *   [from::when]     "from", then nothing after step `when`
 *   [a|b|c]          a on step 1, b on step 2, c on step 3, a on step 4, …
 *
 * `when` with a decimal point is a fraction of the steps, otherwise an absolute step
 * (A1111's current "new" scheduling; the old rule — `when < 1` means a fraction — is
 * available with `useOldScheduling`). The result lists `[lastStep, text]` pairs:
 * `text` is the prompt to use for every step up to and including `lastStep`.
 *
 * A1111 parses with this lark (Earley) grammar:
 *
 *   !start: (prompt | /[][():]/+)*
 *   prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*
 *   !emphasized: "(" prompt ")" | "(" prompt ":" prompt ")" | "[" prompt "]"
 *   scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
 *   alternate: "[" prompt ("|" [prompt])+ "]"
 *   WHITESPACE: /\s+/
 *   plain: /([^\\\[\]():|]|\\.)+/
 *   NUMBER: common.SIGNED_NUMBER
 *
 * Here the same language is parsed by recursive descent. Inside brackets the grammar
 * is deterministic (each prompt runs until a `:`, `|`, `]` or `)` it cannot contain, or
 * a bracket that does not open a valid group); the only ambiguity is at the top level,
 * where a bracket may be either a group or a stray character, and — like lark's
 * resolution — a group is preferred whenever it parses. A prompt with no parse (a `|`
 * outside any `[…]`, a trailing backslash) is returned unchanged for every step, as A1111
 * does when lark raises.
 */
import { PY_SPACE, PromptSyntaxError } from './pychars';

type Node = string | Node[] | Scheduled | Alternate;
interface Scheduled {
  kind: 'scheduled';
  before: Node | null;
  after: Node;
  /** The NUMBER token's text, e.g. "0.5", "3", "+1e2". */
  number: string;
  /** Resolved step (A1111 `tree.children[-2]` after CollectSteps). */
  when: number;
}
interface Alternate {
  kind: 'alternate';
  options: Array<Node | null>;
}

export interface PromptScheduleOptions {
  /** A1111 `hires_steps`: schedule over the hires pass; integer `when` counts from the end of the base steps, fractions from 1.0. */
  hiresSteps?: number;
  /** A1111 `use_old_scheduling`: `when < 1` is a fraction of steps, otherwise an absolute step. */
  useOldScheduling?: boolean;
}

// Terminals, compiled like lark does (sticky, so they match only at the given position).
// lark's `.` is Python's, which excludes only "\n".
const PLAIN = /(?:[^\\[\]():|]|\\[^\n])+/uy;
const WHITESPACE = new RegExp(`${PY_SPACE}+`, 'uy');
// lark's common.SIGNED_NUMBER as lark compiles it (alternatives in that order; ASCII digits).
const NUMBER = /[+-]?(?:[0-9]+[eE][+-]?[0-9]+|(?:[0-9]+\.(?:[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+)/uy;
const STRAY = '[]():';

/** Bracket nesting at which we give up (Python would hit its recursion limit transforming the tree). */
const MAX_DEPTH = 400;

interface Parsed {
  node: Node[];
  end: number;
}

function matchAt(re: RegExp, s: string, pos: number): string | null {
  re.lastIndex = pos;
  const m = re.exec(s);
  return m ? m[0] : null;
}

class ScheduleParser {
  private readonly promptMemo = new Map<number, Parsed>();

  constructor(private readonly s: string) {}

  /** `start`: prompts and stray bracket characters; null when the text has no parse. */
  parseStart(): Node[] | null {
    const out: Node[] = [];
    let pos = 0;
    while (pos < this.s.length) {
      const p = this.prompt(pos, 0);
      if (p.end > pos) {
        out.push(p.node);
        pos = p.end;
        continue;
      }
      if (STRAY.includes(this.s[pos])) {
        out.push(this.s[pos]);
        pos += 1;
        continue;
      }
      return null;
    }
    return out;
  }

  /** `prompt`: the longest run of items starting at `pos` (always succeeds, possibly empty). */
  private prompt(pos: number, depth: number): Parsed {
    const memo = this.promptMemo.get(pos);
    if (memo) return memo;
    if (depth > MAX_DEPTH) throw new PromptSyntaxError('Prompt brackets are nested too deeply.');
    const items: Node[] = [];
    let i = pos;
    for (;;) {
      const c = this.s[i];
      if (c === undefined) break;
      if (c === '(' || c === '[') {
        const item = c === '(' ? this.round(i, depth + 1) : this.square(i, depth + 1);
        if (!item) break;
        items.push(item.node);
        i = item.end;
        continue;
      }
      const plain = matchAt(PLAIN, this.s, i);
      if (plain) {
        items.push(plain);
        i += plain.length;
        continue;
      }
      // WHITESPACE is a subset of `plain`, so nothing else can start an item here.
      break;
    }
    const res = { node: items, end: i };
    this.promptMemo.set(pos, res);
    return res;
  }

  /** `emphasized` with round brackets: "(" prompt ")" | "(" prompt ":" prompt ")". */
  private round(pos: number, depth: number): Parsed | null {
    const a = this.prompt(pos + 1, depth);
    if (this.s[a.end] === ')') return { node: ['(', a.node, ')'], end: a.end + 1 };
    if (this.s[a.end] !== ':') return null;
    const b = this.prompt(a.end + 1, depth);
    if (this.s[b.end] === ')') return { node: ['(', a.node, ':', b.node, ')'], end: b.end + 1 };
    return null;
  }

  /** "[" …: `emphasized` "[" prompt "]", `scheduled` or `alternate`, told apart by what ends the first prompt. */
  private square(pos: number, depth: number): { node: Node; end: number } | null {
    const a = this.prompt(pos + 1, depth);
    const c = this.s[a.end];
    if (c === ']') return { node: ['[', a.node, ']'], end: a.end + 1 };
    if (c === '|') {
      const options: Array<Node | null> = [a.node];
      let i = a.end;
      while (this.s[i] === '|') {
        const p = this.prompt(i + 1, depth);
        options.push(p.end > i + 1 ? p.node : null);
        i = p.end;
      }
      if (this.s[i] !== ']') return null;
      return { node: { kind: 'alternate', options }, end: i + 1 };
    }
    if (c !== ':') return null;
    // [after:when]
    const short = this.scheduleTail(a.end + 1);
    if (short) return { node: { kind: 'scheduled', before: null, after: a.node, number: short.number, when: 0 }, end: short.end };
    // [before:after:when]
    const b = this.prompt(a.end + 1, depth);
    if (this.s[b.end] !== ':') return null;
    const long = this.scheduleTail(b.end + 1);
    if (!long) return null;
    return { node: { kind: 'scheduled', before: a.node, after: b.node, number: long.number, when: 0 }, end: long.end };
  }

  /** [WHITESPACE] NUMBER [WHITESPACE] "]" */
  private scheduleTail(pos: number): { number: string; end: number } | null {
    let i = pos;
    const ws1 = matchAt(WHITESPACE, this.s, i);
    if (ws1) i += ws1.length;
    const number = matchAt(NUMBER, this.s, i);
    if (!number) return null;
    i += number.length;
    const ws2 = matchAt(WHITESPACE, this.s, i);
    if (ws2) i += ws2.length;
    if (this.s[i] !== ']') return null;
    return { number, end: i + 1 };
  }
}

/** Visit every scheduled/alternate node (order does not matter: the result is a set). */
function walk(node: Node | null, fn: (n: Scheduled | Alternate) => void): void {
  if (node === null || typeof node === 'string') return;
  if (Array.isArray(node)) {
    for (const child of node) walk(child, fn);
    return;
  }
  fn(node);
  if (node.kind === 'scheduled') {
    walk(node.before, fn);
    walk(node.after, fn);
  } else {
    for (const o of node.options) walk(o, fn);
  }
}

/** Python's `int(float)` (truncation), raising like Python on infinities. */
function pyInt(v: number): number {
  if (!Number.isFinite(v)) throw new PromptSyntaxError('cannot convert float infinity to integer');
  return Math.trunc(v) + 0;
}

/** Python's `a % n` for n > 0 (result has the sign of n). */
function pyMod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/**
 * A1111's `get_learned_conditioning_prompt_schedules([prompt], steps, hiresSteps, useOldScheduling)[0]`.
 * Returns `[lastStep, text]` pairs in increasing step order; the last one ends at `steps`
 * (or `hiresSteps`). Throws PromptSyntaxError where A1111 would raise (a `when` of ±1e400).
 */
export function getPromptSchedules(prompt: string, steps: number, opts: PromptScheduleOptions = {}): Array<[number, string]> {
  const hires = opts.hiresSteps;
  const old = opts.useOldScheduling === true;
  let intOffset = 0;
  let fltOffset = 0;
  let total = steps;
  if (hires !== undefined && hires !== null && !old) {
    intOffset = steps;
    fltOffset = 1.0;
    total = hires;
  }

  const tree = new ScheduleParser(prompt).parseStart();
  if (tree === null) return [[total, prompt]];

  const stepSet = new Set<number>([total]);
  walk(tree, (n) => {
    if (n.kind === 'scheduled') {
      let v = Number(n.number);
      if (old) v = v < 1 ? v * total : v;
      else if (n.number.includes('.')) v = (v - fltOffset) * total;
      else v = v - intOffset;
      n.when = Math.min(total, pyInt(v));
      if (n.when >= 1) stepSet.add(n.when);
    } else {
      for (let s = 1; s <= total; s++) stepSet.add(s);
    }
  });
  const stepsSorted = [...stepSet].sort((a, b) => a - b);

  return stepsSorted.map((t) => [t, textAt(tree, t)]);
}

/** A1111's `AtStep` transformer: the prompt text at `step`. */
function textAt(node: Node | null, step: number): string {
  if (node === null) return '';
  if (typeof node === 'string') return node;
  if (Array.isArray(node)) {
    let out = '';
    for (const child of node) out += textAt(child, step);
    return out;
  }
  if (node.kind === 'scheduled') return step <= node.when ? textAt(node.before, step) : textAt(node.after, step);
  // Python's modulo: differs from JS `%` only for steps < 1, which A1111 does not reject.
  return textAt(node.options[pyMod(step - 1, node.options.length)], step);
}
