/**
 * Python `html.unescape` semantics for the entities prompts actually contain:
 * numeric references (with the HTML5 windows-1252 remapping and U+FFFD rules),
 * the ISO-8859-1 + common HTML4 named entities, and the legacy no-semicolon
 * forms (`&amp`, `&eacute`…) matched by longest prefix as Python does.
 * (The full 2,231-entry HTML5 table is not embedded; unknown names stay as-is.)
 */

// U+00A0…U+00FF in order; all of these also have no-semicolon legacy forms.
const LATIN1 =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml'.split(' ');

const OTHER: Record<string, number> = {
  quot: 0x22, amp: 0x26, apos: 0x27, lt: 0x3c, gt: 0x3e, OElig: 0x152, oelig: 0x153, Scaron: 0x160, scaron: 0x161,
  Yuml: 0x178, fnof: 0x192, circ: 0x2c6, tilde: 0x2dc, ensp: 0x2002, emsp: 0x2003, thinsp: 0x2009, zwnj: 0x200c,
  zwj: 0x200d, lrm: 0x200e, rlm: 0x200f, ndash: 0x2013, mdash: 0x2014, lsquo: 0x2018, rsquo: 0x2019, sbquo: 0x201a,
  ldquo: 0x201c, rdquo: 0x201d, bdquo: 0x201e, dagger: 0x2020, Dagger: 0x2021, bull: 0x2022, hellip: 0x2026,
  permil: 0x2030, prime: 0x2032, Prime: 0x2033, lsaquo: 0x2039, rsaquo: 0x203a, oline: 0x203e, frasl: 0x2044,
  euro: 0x20ac, trade: 0x2122, larr: 0x2190, uarr: 0x2191, rarr: 0x2192, darr: 0x2193, harr: 0x2194, minus: 0x2212,
  infin: 0x221e, ne: 0x2260, le: 0x2264, ge: 0x2265, spades: 0x2660, clubs: 0x2663, hearts: 0x2665, diams: 0x2666,
  star: 0x2606, check: 0x2713, nbsp: 0xa0, Tab: 0x09, NewLine: 0x0a,
};
const GREEK = 'Alpha Beta Gamma Delta Epsilon Zeta Eta Theta Iota Kappa Lambda Mu Nu Xi Omicron Pi Rho _ Sigma Tau Upsilon Phi Chi Psi Omega'.split(' ');

const WITH_SEMI = new Map<string, string>();
const LEGACY = new Map<string, string>();
LATIN1.forEach((name, i) => {
  WITH_SEMI.set(name, String.fromCodePoint(0xa0 + i));
  LEGACY.set(name, String.fromCodePoint(0xa0 + i));
});
for (const [name, cp] of Object.entries(OTHER)) WITH_SEMI.set(name, String.fromCodePoint(cp));
GREEK.forEach((name, i) => {
  if (name === '_') return;
  WITH_SEMI.set(name, String.fromCodePoint(0x391 + i));
  WITH_SEMI.set(name.toLowerCase(), String.fromCodePoint(0x3b1 + i));
});
WITH_SEMI.set('sigmaf', '\u03c2');
for (const n of ['amp', 'lt', 'gt', 'quot']) LEGACY.set(n, WITH_SEMI.get(n)!);
for (const n of ['AMP', 'LT', 'GT', 'QUOT', 'COPY', 'REG']) {
  const v = WITH_SEMI.get(n.toLowerCase())!;
  WITH_SEMI.set(n, v);
  LEGACY.set(n, v);
}

// HTML5 "invalid" numeric references remapped like Python's html._invalid_charrefs.
const CP1252: Record<number, string> = {
  0x00: '\ufffd', 0x0d: '\r', 0x80: '\u20ac', 0x81: '\x81', 0x82: '\u201a', 0x83: '\u0192', 0x84: '\u201e',
  0x85: '\u2026', 0x86: '\u2020', 0x87: '\u2021', 0x88: '\u02c6', 0x89: '\u2030', 0x8a: '\u0160', 0x8b: '\u2039',
  0x8c: '\u0152', 0x8d: '\x8d', 0x8e: '\u017d', 0x8f: '\x8f', 0x90: '\x90', 0x91: '\u2018', 0x92: '\u2019',
  0x93: '\u201c', 0x94: '\u201d', 0x95: '\u2022', 0x96: '\u2013', 0x97: '\u2014', 0x98: '\u02dc', 0x99: '\u2122',
  0x9a: '\u0161', 0x9b: '\u203a', 0x9c: '\u0153', 0x9d: '\x9d', 0x9e: '\u017e', 0x9f: '\u0178',
};

function isInvalidCodepoint(n: number): boolean {
  return (
    (n >= 0x1 && n <= 0x8) || n === 0xb || (n >= 0xe && n <= 0x1f) || (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) || (n & 0xfffe) === 0xfffe
  );
}

function numeric(ref: string): string {
  const n = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
  if (n in CP1252) return CP1252[n];
  if ((n >= 0xd800 && n <= 0xdfff) || n > 0x10ffff) return '\ufffd';
  if (isInvalidCodepoint(n)) return '';
  return String.fromCodePoint(n);
}

const ENTITY = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

export function decodeHtmlEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(ENTITY, (whole, ref: string) => {
    if (ref[0] === '#') return numeric(ref.replace(/;$/, ''));
    if (ref.endsWith(';')) {
      const v = WITH_SEMI.get(ref.slice(0, -1));
      if (v !== undefined) return v;
    }
    for (let x = ref.length - 1; x > 1; x--) {
      const v = LEGACY.get(ref.slice(0, x));
      if (v !== undefined) return v + ref.slice(x);
    }
    // Python also tries the full ref when it has no ';' (e.g. "&amp" at end of text).
    const full = LEGACY.get(ref);
    if (full !== undefined) return full;
    return whole;
  });
}
