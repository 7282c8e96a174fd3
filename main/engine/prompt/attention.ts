/**
 * AUTOMATIC1111 attention syntax (`modules/prompt_parser.py`, `parse_prompt_attention`):
 *
 *   (abc)       attention to abc × 1.1
 *   (abc:3.12)  attention to abc × 3.12
 *   [abc]       attention to abc ÷ 1.1 (× 1/1.1, as A1111 does)
 *   \( \) \[ \] \\   literal characters
 *   BREAK       (as a whole word) → the pair ["BREAK", -1]: start a new 75-token chunk
 *
 * Unclosed brackets still apply their multiplier to everything after them; runs of
 * equal weight are merged. Weights are products of doubles taken in the same order
 * as Python, so they are bit-identical to A1111's (`((a))` → 1.2100000000000002).
 */
import { PY_DIGIT, PY_SPACE, PY_WORD_CLASS, pyFloat } from './pychars';

/** A1111's `re_attention`, alternatives in the same order (first match wins). */
const RE_ATTENTION = new RegExp(
  [
    '\\\\\\(', // \(
    '\\\\\\)', // \)
    '\\\\\\[', // \[
    '\\\\\\]', // \]
    '\\\\\\\\', // \\
    '\\\\', // lone backslash
    '\\(',
    '\\[',
    `:${PY_SPACE}*([+-]?[.${PY_DIGIT}]+)${PY_SPACE}*\\)`, // ":1.3)" closes a round bracket with that weight
    '\\)',
    '\\]',
    '[^\\\\()\\[\\]:]+',
    ':',
  ].join('|'),
  'gu',
);

/** A1111's `re_break` = `\s*\bBREAK\b\s*` with Python's Unicode `\s`/`\b`. */
const RE_BREAK = new RegExp(`${PY_SPACE}*(?<![${PY_WORD_CLASS}])BREAK(?![${PY_WORD_CLASS}])${PY_SPACE}*`, 'gu');

const ROUND_BRACKET_MULTIPLIER = 1.1;
const SQUARE_BRACKET_MULTIPLIER = 1 / 1.1;

/** Python's `re.split(pattern, text)` for a pattern without groups that never matches empty. */
function splitLikePython(text: string, re: RegExp): string[] {
  const parts: string[] = [];
  let last = 0;
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) {
    parts.push(text.slice(last, m.index));
    last = m.index! + m[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

/**
 * Split a prompt into `[text, weight]` runs, exactly as A1111's `parse_prompt_attention`.
 * `BREAK` yields `["BREAK", -1]` (its weight is scaled like any run when inside brackets,
 * as in A1111, and then no longer counts as a BREAK).
 * Throws PromptSyntaxError where A1111 raises (a weight such as `(a:1.2.3)` that is not a float).
 */
export function parsePromptAttention(text: string): Array<[string, number]> {
  const res: Array<[string, number]> = [];
  const roundBrackets: number[] = [];
  const squareBrackets: number[] = [];

  const multiplyRange = (start: number, multiplier: number): void => {
    for (let p = start; p < res.length; p++) res[p][1] *= multiplier;
  };

  for (const m of text.matchAll(RE_ATTENTION)) {
    const tok = m[0];
    const weight = m[1];
    if (tok.startsWith('\\')) {
      res.push([tok.slice(1), 1.0]);
    } else if (tok === '(') {
      roundBrackets.push(res.length);
    } else if (tok === '[') {
      squareBrackets.push(res.length);
    } else if (weight !== undefined && roundBrackets.length > 0) {
      multiplyRange(roundBrackets.pop()!, pyFloat(weight));
    } else if (tok === ')' && roundBrackets.length > 0) {
      multiplyRange(roundBrackets.pop()!, ROUND_BRACKET_MULTIPLIER);
    } else if (tok === ']' && squareBrackets.length > 0) {
      multiplyRange(squareBrackets.pop()!, SQUARE_BRACKET_MULTIPLIER);
    } else {
      const parts = splitLikePython(tok, RE_BREAK);
      parts.forEach((part, i) => {
        if (i > 0) res.push(['BREAK', -1]);
        res.push([part, 1.0]);
      });
    }
  }

  // Unclosed brackets apply from where they opened to the end (round first, then square).
  for (const pos of roundBrackets) multiplyRange(pos, ROUND_BRACKET_MULTIPLIER);
  for (const pos of squareBrackets) multiplyRange(pos, SQUARE_BRACKET_MULTIPLIER);

  if (res.length === 0) res.push(['', 1.0]);

  // Merge runs of identical weights.
  let i = 0;
  while (i + 1 < res.length) {
    if (res[i][1] === res[i + 1][1]) {
      res[i][0] += res[i + 1][0];
      res.splice(i + 1, 1);
    } else {
      i += 1;
    }
  }
  return res;
}
