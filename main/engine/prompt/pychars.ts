/**
 * Character classes and number parsing that behave like Python's `re` (str patterns)
 * and `float()`, so the prompt parsers give A1111's results on non-ASCII input too.
 *
 * JS `\s`, `\d` and `\b` differ from Python's Unicode-aware versions:
 *  - Python `\s` also matches U+001C–U+001F and U+0085, and does not match U+FEFF;
 *  - Python `\d` matches every Unicode decimal digit (category Nd), JS only 0–9;
 *  - Python `\w` (and so `\b`) is Unicode letters/numbers/underscore, JS only [A-Za-z0-9_].
 */

/** Body of a character class equal to Python's `\s` on str (chars where `str.isspace()`). */
export const PY_SPACE_CLASS = '\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** Python `\s` as a standalone class (use with the `u` flag). */
export const PY_SPACE = `[${PY_SPACE_CLASS}]`;
/** Python `\d` on str: Unicode decimal digits (use with the `u` flag). */
export const PY_DIGIT = '\\p{Nd}';
/** Python `\w` on str (alphanumerics per `str.isalnum()` plus `_`), as a class body (use with the `u` flag). */
export const PY_WORD_CLASS = '\\p{L}\\p{N}_';

const ND = /\p{Nd}/u;

/**
 * Value 0–9 of a Unicode decimal digit. Unicode encodes every Nd digit set as a
 * contiguous run of ten code points, 0 to 9, so the value is the position in its run.
 */
function digitValue(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
  // Count the digits before it in its run; adjacent sets (e.g. the mathematical
  // digits U+1D7CE–U+1D7FF) are runs of ten back to back, hence the modulo.
  let n = 0;
  while (cp - n - 1 >= 0 && ND.test(String.fromCodePoint(cp - n - 1))) n++;
  return n % 10;
}

/**
 * Python's `float(s)` for the strings the prompt regexes can capture
 * (`[+-]?` followed by digits and dots, digits possibly non-ASCII).
 * Throws like Python's ValueError when the text is not a valid float ("1.2.3", ".").
 */
export function pyFloat(s: string): number {
  let ascii = '';
  for (const ch of s) ascii += ND.test(ch) ? String(digitValue(ch)) : ch;
  const t = ascii.trim();
  if (/^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/.test(t)) return Number(t);
  throw new PromptSyntaxError(`could not convert string to float: '${s}'`);
}

/** Raised where A1111 would raise (e.g. Python's ValueError on a weight like `(word:1.2.3)`). */
export class PromptSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromptSyntaxError';
  }
}
