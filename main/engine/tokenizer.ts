/**
 * CLIP byte-level BPE tokenizer, a port of OpenAI's `simple_tokenizer.py`
 * (the semantics diffusers' CLIPTokenizer reproduces):
 *   clean (ftfy subset, html unescape ×2, whitespace collapse) → lowercase →
 *   CLIP regex split → byte→unicode map → BPE with `</w>` on the last symbol,
 *   merges applied in `merges.txt` rank order → ids, framed by BOS/EOS.
 *
 * Written by hand rather than via @huggingface/tokenizers: the algorithm is
 * ~150 lines, needs no native/wasm dependency, and reads the vocab.json +
 * merges.txt pair every diffusers-ONNX folder ships (no tokenizer.json needed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeHtmlEntities } from './html-entities';

export const BOS_TOKEN = '<|startoftext|>';
export const EOS_TOKEN = '<|endoftext|>';
/** CLIP context length used by every SD text encoder. */
export const CLIP_MAX_LENGTH = 77;

export interface ClipTokenizerOptions {
  /** Pad token string (default `<|endoftext|>`; SD2.x / SDXL tokenizer_2 use `!`). */
  padToken?: string;
  /** `model_max_length` (default 77). */
  maxLength?: number;
}

export interface PaddedIds {
  ids: number[];
  /** True when the prompt had more than `length - 2` content tokens and was cut. */
  truncated: boolean;
}

// `'s|'t|…` are case-insensitive in the original (re.IGNORECASE); text is lowercased before matching anyway.
const CLIP_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/** Python's `\s` on str also matches U+001C–U+001F and U+0085, which JS `\s` does not. */
const WHITESPACE_RUN = /[\s\x1c-\x1f\x85]+/gu;

/** GPT-2/CLIP reversible byte → printable unicode character map. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const table: string[] = new Array(256);
  for (const b of bs) table[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCodePoint(256 + n++);
  }
  return table;
}
const BYTE_ENCODER = bytesToUnicode();

const LIGATURES: Record<string, string> = {
  '\u0132': 'IJ', '\u0133': 'ij', '\u0149': "\u02bcn", '\u01c7': 'LJ', '\u01c8': 'Lj', '\u01c9': 'lj',
  '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj', '\ufb00': 'ff', '\ufb01': 'fi', '\ufb02': 'fl',
  '\ufb03': 'ffi', '\ufb04': 'ffl', '\ufb05': 'ſt', '\ufb06': 'st',
};

/**
 * The parts of `ftfy.fix_text` (default config) that change real prompts:
 * control-character removal, latin ligatures, full-width ASCII, curly quotes, NFC.
 * (Mojibake repair is not attempted.)
 */
export function ftfySubset(text: string): string {
  // ftfy.remove_control_chars: C0 controls (not \t \n \f \r), DEL, U+206A–F, BOM, U+FFF9–FFFC, musical/tag chars.
  let s = text.replace(/[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]|[\u{1d173}-\u{1d17a}\u{e0000}-\u{e007f}]/gu, '');
  s = s.replace(/[\u0132\u0133\u0149\u01c7-\u01cc\ufb00-\ufb06]/g, (c) => LIGATURES[c] ?? c);
  s = s.replace(/[\uff01-\uff5e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).replace(/\u3000/g, ' ');
  s = s.replace(/[\u02bc\u2018-\u201b]/g, "'").replace(/[\u201c-\u201f]/g, '"');
  return s.normalize('NFC');
}

/** `whitespace_clean(basic_clean(text)).lower()` from simple_tokenizer.py. */
export function cleanPrompt(text: string): string {
  let s = ftfySubset(text);
  s = decodeHtmlEntities(decodeHtmlEntities(s)).trim();
  s = s.replace(WHITESPACE_RUN, ' ').trim();
  return s.toLowerCase();
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly padToken: string;
  readonly maxLength: number;
  readonly vocabSize: number;
  private readonly encoder: Map<string, number>;
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, string[]>();

  constructor(vocab: Record<string, number>, merges: Array<[string, string]>, opts: ClipTokenizerOptions = {}) {
    this.encoder = new Map(Object.entries(vocab));
    this.vocabSize = this.encoder.size;
    this.ranks = new Map(merges.map(([a, b], i) => [`${a} ${b}`, i]));
    const need = (tok: string, what: string): number => {
      const id = this.encoder.get(tok);
      if (id === undefined) throw new Error(`Tokenizer vocabulary has no ${what} token "${tok}".`);
      return id;
    };
    this.bosId = need(BOS_TOKEN, 'BOS');
    this.eosId = need(EOS_TOKEN, 'EOS');
    this.padToken = opts.padToken ?? EOS_TOKEN;
    this.padId = need(this.padToken, 'pad');
    this.maxLength = opts.maxLength ?? CLIP_MAX_LENGTH;
    this.cache.set(BOS_TOKEN, [BOS_TOKEN]);
    this.cache.set(EOS_TOKEN, [EOS_TOKEN]);
  }

  /** Build from a HF `vocab.json` and a `merges.txt` (first `#version` line skipped). */
  static fromFiles(vocabJsonPath: string, mergesTxtPath: string, opts?: ClipTokenizerOptions): ClipTokenizer {
    const vocab = JSON.parse(readFileSync(vocabJsonPath, 'utf8')) as Record<string, number>;
    return new ClipTokenizer(vocab, parseMerges(readFileSync(mergesTxtPath, 'utf8')), opts);
  }

  /** Token ids for `text`: [BOS, …tokens, EOS], no padding, no truncation. */
  encode(text: string): number[] {
    const ids = [this.bosId];
    for (const m of cleanPrompt(text).matchAll(CLIP_PATTERN)) {
      const piece = m[0];
      let mapped = '';
      for (const byte of Buffer.from(piece, 'utf8')) mapped += BYTE_ENCODER[byte];
      for (const tok of this.bpe(mapped)) ids.push(this.encoder.get(tok) ?? this.eosId);
    }
    ids.push(this.eosId);
    return ids;
  }

  /** diffusers `padding="max_length", truncation=True`: BOS + ≤(length-2) tokens + EOS, then pad ids. */
  encodePadded(text: string, length = this.maxLength): PaddedIds {
    let ids = this.encode(text);
    const truncated = ids.length > length;
    if (truncated) ids = [...ids.slice(0, length - 1), this.eosId];
    while (ids.length < length) ids.push(this.padId);
    return { ids, truncated };
  }

  /** Inverse mapping for debugging / tests (byte-level decode, `</w>` → space, BOS/EOS dropped). */
  decode(ids: number[]): string {
    const inv = new Map<number, string>();
    for (const [k, v] of this.encoder) inv.set(v, k);
    const byteOf = new Map(BYTE_ENCODER.map((c, b) => [c, b]));
    const text = ids
      .filter((id) => id !== this.bosId && id !== this.eosId)
      .map((id) => inv.get(id) ?? '')
      .join('');
    const bytes: number[] = [];
    for (const ch of text.replaceAll('</w>', ' ')) {
      const b = byteOf.get(ch);
      if (b !== undefined) bytes.push(b);
      else bytes.push(...Buffer.from(ch, 'utf8'));
    }
    return Buffer.from(bytes).toString('utf8').trim();
  }

  private bpe(token: string): string[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const chars = Array.from(token);
    let word = [...chars.slice(0, -1), chars[chars.length - 1] + '</w>'];
    while (word.length > 1) {
      // Lowest-ranked adjacent pair (first occurrence wins ties, as Python's min()).
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best];
      const second = word[best + 1];
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]);
          i += 1;
        }
      }
      word = merged;
    }
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(token, word);
    return word;
  }
}

/** Parse merges.txt: skip the `#version` header and blank lines; each line is "left right". */
export function parseMerges(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (!line || (i === 0 && line.startsWith('#version'))) continue;
    const sp = line.indexOf(' ');
    if (sp <= 0) throw new Error(`merges.txt line ${i + 1} is not "left right": ${JSON.stringify(line)}`);
    out.push([line.slice(0, sp), line.slice(sp + 1)]);
  }
  return out;
}

/** `special_tokens_map.json` / `tokenizer_config.json` values are strings or `{content: …}` objects. */
export function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

function readJsonIfExists(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/**
 * Load a diffusers `tokenizer/` folder. The pad token comes from
 * `special_tokens_map.json`, else `tokenizer_config.json`, else `<|endoftext|>`.
 * Throws plain Errors; the model loader wraps them into ModelLoadError.
 */
export function loadTokenizer(folder: string): ClipTokenizer {
  const special = readJsonIfExists(join(folder, 'special_tokens_map.json'));
  const config = readJsonIfExists(join(folder, 'tokenizer_config.json'));
  const padToken = tokenString(special?.pad_token) ?? tokenString(config?.pad_token) ?? EOS_TOKEN;
  const maxLen = typeof config?.model_max_length === 'number' && config.model_max_length < 1e6 ? config.model_max_length : CLIP_MAX_LENGTH;
  return ClipTokenizer.fromFiles(join(folder, 'vocab.json'), join(folder, 'merges.txt'), { padToken, maxLength: maxLen });
}
