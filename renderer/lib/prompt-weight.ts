/**
 * A1111-style attention weights: Ctrl/Cmd+Up/Down turns the selection into `(text:1.1)` and steps
 * its weight. Pure so the editor keybinding and the tests share one implementation.
 */
export interface TextEdit {
  text: string;
  selectionStart: number;
  selectionEnd: number;
}

export const WEIGHT_STEP = 0.1;
const WEIGHTED = /^\(([\s\S]*):(-?\d+(?:\.\d+)?)\)$/;
const TRAILING_WEIGHT = /^:(-?\d+(?:\.\d+)?)\)/;

function formatWeight(w: number): string {
  return String(Number(w.toFixed(2)));
}

/** The word around a caret (letters, digits, _ - '), or an empty range. */
function wordAt(text: string, pos: number): [number, number] {
  const isWord = (ch: string | undefined) => !!ch && /[\p{L}\p{N}_'-]/u.test(ch);
  let s = pos;
  let e = pos;
  while (s > 0 && isWord(text[s - 1])) s--;
  while (e < text.length && isWord(text[e])) e++;
  return [s, e];
}

/**
 * Raise (delta > 0) or lower the weight of the selected text. An empty selection acts on the word
 * at the caret. A weight that returns to 1 removes the parentheses. The returned selection covers
 * the inner text so repeated presses keep stepping the same span.
 */
export function adjustWeight(edit: TextEdit, delta: number): TextEdit {
  let { text, selectionStart: s, selectionEnd: e } = edit;
  if (s > e) [s, e] = [e, s];
  if (s === e) [s, e] = wordAt(text, s);
  // Ignore surrounding whitespace in the selection.
  while (s < e && /\s/.test(text[s]!)) s++;
  while (e > s && /\s/.test(text[e - 1]!)) e--;
  if (s === e) return edit;

  const selected = text.slice(s, e);
  let start = s;
  let end = e;
  let inner = selected;
  let weight = 1;
  const whole = WEIGHTED.exec(selected);
  const trailing = TRAILING_WEIGHT.exec(text.slice(e));
  if (whole) {
    inner = whole[1]!;
    weight = Number(whole[2]);
  } else if (text[s - 1] === '(' && trailing) {
    start = s - 1;
    end = e + trailing[0].length;
    weight = Number(trailing[1]);
  }

  const next = Number((weight + delta).toFixed(2));
  const replacement = next === 1 ? inner : `(${inner}:${formatWeight(next)})`;
  const innerStart = start + (next === 1 ? 0 : 1);
  return {
    text: text.slice(0, start) + replacement + text.slice(end),
    selectionStart: innerStart,
    selectionEnd: innerStart + inner.length,
  };
}

export type PromptSpan = { text: string; kind: 'text' | 'paren' | 'weight' | 'break' | 'comma' };

/** Splits a prompt into spans for syntax highlighting (parens, `:1.2` weights, BREAK, commas). */
export function highlightPrompt(text: string): PromptSpan[] {
  const spans: PromptSpan[] = [];
  const re = /(:-?\d+(?:\.\d+)?(?=\s*\)))|([()[\]])|(\bBREAK\b)|(,)/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) spans.push({ text: text.slice(last, m.index), kind: 'text' });
    const kind = m[1] ? 'weight' : m[2] ? 'paren' : m[3] ? 'break' : 'comma';
    spans.push({ text: m[0], kind });
    last = m.index + m[0].length;
  }
  if (last < text.length) spans.push({ text: text.slice(last), kind: 'text' });
  return spans;
}
