/**
 * Long-prompt chunking and emphasis, the AUTOMATIC1111 way (`modules/sd_hijack_clip.py`
 * `tokenize_line` / `process_tokens`, `modules/sd_emphasis.py` `EmphasisOriginal`):
 *
 *  - the prompt is split into `[text, weight]` runs (parsePromptAttention), each run is
 *    tokenized on its own (no BOS/EOS) and every token carries its run's weight;
 *  - tokens fill 75-token chunks; `BREAK` starts a new chunk; when a chunk is full and a
 *    comma was seen within its last 20 tokens, the tokens after that comma move to the
 *    next chunk (`comma_padding_backtrack`);
 *  - each chunk is padded to 75 with EOS and framed BOS … EOS (77 tokens, weight 1.0 on
 *    BOS/EOS/padding); chunks are encoded separately and the hidden states concatenated;
 *  - per chunk, the encoder output is scaled token-wise by the weights and then rescaled
 *    so its overall mean is what it was before weighting.
 *
 * Pure code: no Node APIs, no ONNX Runtime.
 */
import { parsePromptAttention } from './attention';

/** A token id with the emphasis weight it gets. */
export interface WeightedToken {
  id: number;
  weight: number;
}

/** Marks a `BREAK` between fragments in `chunkTokens` input. */
export const PROMPT_BREAK = 'BREAK' as const;

/** One fragment's tokens (no BOS/EOS), or a BREAK. */
export type PromptFragment = readonly WeightedToken[] | typeof PROMPT_BREAK;

/** Anything that turns text into CLIP token ids; `ClipTokenizer` fits. BOS/EOS framing, if `encode` adds it, is stripped. */
export interface PromptTokenizer {
  encode(text: string): number[];
  readonly bosId: number;
  readonly eosId: number;
  /** Pad id (SD2.x / SDXL's second tokenizer pad with a different id than EOS). Defaults to `eosId`. */
  readonly padId?: number;
}

export interface ChunkOptions {
  bosId: number;
  eosId: number;
  /**
   * Pad id. When it differs from `eosId`, every position after the first EOS of a chunk
   * becomes `padId`, as A1111's `process_tokens` does for SD2 / SDXL's OpenCLIP encoder.
   */
  padId?: number;
  /** Id of `,</w>` (see `commaTokenId`); null/undefined disables the comma backtrack. */
  commaId?: number | null;
  /** Content tokens per chunk (A1111 `chunk_length`, default 75). */
  chunkLength?: number;
  /** A1111 `comma_padding_backtrack` (default 20; 0 disables). */
  commaPaddingBacktrack?: number;
  /** Keep at most this many chunks; anything beyond is dropped and `truncated` is set. */
  maxChunks?: number;
}

/** One encoder input: `chunkLength + 2` token ids and as many weights. */
export interface PromptChunk {
  tokens: number[];
  weights: number[];
}

export interface ChunkedPrompt {
  chunks: PromptChunk[];
  /**
   * A1111's token count: 75 per full chunk plus the content tokens of the last one
   * (what the webui shows as "N/75"). Counts every chunk, including dropped ones.
   */
  tokenCount: number;
  /** True when `maxChunks` cut chunks off (their text is not used). */
  truncated: boolean;
  /** Chunks there were before `maxChunks` was applied. */
  totalChunks: number;
}

export const DEFAULT_CHUNK_LENGTH = 75;
export const DEFAULT_COMMA_PADDING_BACKTRACK = 20;

/** Token ids of `text` without BOS/EOS framing. */
export function encodeWithoutSpecial(tokenizer: PromptTokenizer, text: string): number[] {
  const ids = tokenizer.encode(text);
  let start = 0;
  let end = ids.length;
  if (end > start && ids[start] === tokenizer.bosId) start++;
  if (end > start && ids[end - 1] === tokenizer.eosId) end--;
  return ids.slice(start, end);
}

/** The id of the `,</w>` token (what `","` encodes to), or null when the vocabulary has none. */
export function commaTokenId(tokenizer: PromptTokenizer): number | null {
  const ids = encodeWithoutSpecial(tokenizer, ',');
  return ids.length === 1 ? ids[0] : null;
}

/** A1111 `empty_chunk()`: BOS, then EOS for the rest, weights 1.0 (pad ids applied as in `chunkTokens`). */
export function emptyChunk(opts: ChunkOptions): PromptChunk {
  const len = (opts.chunkLength ?? DEFAULT_CHUNK_LENGTH) + 2;
  const tokens = [opts.bosId, ...new Array<number>(len - 1).fill(opts.eosId)];
  return { tokens: applyPad(tokens, opts), weights: new Array<number>(len).fill(1.0) };
}

function applyPad(tokens: number[], opts: ChunkOptions): number[] {
  const pad = opts.padId ?? opts.eosId;
  if (pad === opts.eosId) return tokens;
  const idx = tokens.indexOf(opts.eosId);
  if (idx < 0) return tokens;
  return tokens.map((t, i) => (i > idx ? pad : t));
}

/**
 * A1111 `tokenize_line` after tokenization: pack weighted tokens into
 * `chunkLength`-token chunks framed by BOS/EOS (textual-inversion embeddings aside).
 */
export function chunkTokens(fragments: readonly PromptFragment[], opts: ChunkOptions): ChunkedPrompt {
  const chunkLength = opts.chunkLength ?? DEFAULT_CHUNK_LENGTH;
  const backtrack = opts.commaPaddingBacktrack ?? DEFAULT_COMMA_PADDING_BACKTRACK;
  const comma = opts.commaId ?? null;
  if (!Number.isInteger(chunkLength) || chunkLength < 1) throw new RangeError(`chunkLength must be a positive integer, got ${chunkLength}`);

  const chunks: PromptChunk[] = [];
  let tokens: number[] = [];
  let weights: number[] = [];
  let tokenCount = 0;
  let lastComma = -1;

  const nextChunk = (isLast = false): void => {
    tokenCount += isLast ? tokens.length : chunkLength;
    while (tokens.length < chunkLength) {
      tokens.push(opts.eosId);
      weights.push(1.0);
    }
    chunks.push({ tokens: applyPad([opts.bosId, ...tokens, opts.eosId], opts), weights: [1.0, ...weights, 1.0] });
    lastComma = -1;
    tokens = [];
    weights = [];
  };

  for (const fragment of fragments) {
    if (fragment === PROMPT_BREAK) {
      nextChunk();
      continue;
    }
    for (const { id, weight } of fragment) {
      if (comma !== null && id === comma) {
        lastComma = tokens.length;
      } else if (backtrack !== 0 && tokens.length === chunkLength && lastComma !== -1 && tokens.length - lastComma <= backtrack) {
        // Full chunk with a comma close to its end: move what follows the comma to the next chunk.
        const breakLocation = lastComma + 1;
        const relocTokens = tokens.slice(breakLocation);
        const relocWeights = weights.slice(breakLocation);
        tokens = tokens.slice(0, breakLocation);
        weights = weights.slice(0, breakLocation);
        nextChunk();
        tokens = relocTokens;
        weights = relocWeights;
      }
      if (tokens.length === chunkLength) nextChunk();
      tokens.push(id);
      weights.push(weight);
    }
  }
  if (tokens.length > 0 || chunks.length === 0) nextChunk(true);

  const totalChunks = chunks.length;
  const max = opts.maxChunks;
  const truncated = max !== undefined && totalChunks > max;
  return { chunks: truncated ? chunks.slice(0, Math.max(0, max)) : chunks, tokenCount, truncated, totalChunks };
}

export interface WeightedPromptOptions {
  /** Comma token id; default `commaTokenId(tokenizer)`. Pass null to disable the backtrack. */
  commaId?: number | null;
  chunkLength?: number;
  commaPaddingBacktrack?: number;
  maxChunks?: number;
  /** A1111 `emphasis: "None"`: take the text literally (no attention syntax, no BREAK). Default true. */
  parseAttention?: boolean;
}

export interface WeightedPrompt extends ChunkedPrompt {
  /** The `[text, weight]` runs the chunks were built from. */
  parsed: Array<[string, number]>;
}

/**
 * A1111 `tokenize_line`: attention syntax → weighted tokens → 77-token chunks.
 * `text` should already be one step's text from `getPromptSchedules`.
 */
export function tokenizeWeightedPrompt(text: string, tokenizer: PromptTokenizer, opts: WeightedPromptOptions = {}): WeightedPrompt {
  const parsed: Array<[string, number]> = opts.parseAttention === false ? [[text, 1.0]] : parsePromptAttention(text);
  const fragments: PromptFragment[] = parsed.map(([t, w]) =>
    t === 'BREAK' && w === -1 ? PROMPT_BREAK : encodeWithoutSpecial(tokenizer, t).map((id) => ({ id, weight: w })),
  );
  const commaId = opts.commaId === undefined ? commaTokenId(tokenizer) : opts.commaId;
  const chunked = chunkTokens(fragments, {
    bosId: tokenizer.bosId,
    eosId: tokenizer.eosId,
    padId: tokenizer.padId,
    commaId,
    chunkLength: opts.chunkLength,
    commaPaddingBacktrack: opts.commaPaddingBacktrack,
    maxChunks: opts.maxChunks,
  });
  return { ...chunked, parsed };
}

function checkShapes(hidden: Float32Array, weights: ArrayLike<number>, dim: number): void {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be a positive integer, got ${dim}`);
  if (hidden.length !== weights.length * dim) {
    throw new RangeError(`hidden states have ${hidden.length} values; expected ${weights.length} tokens × ${dim}`);
  }
}

/** Mean of a float32 tensor as a float32 (accumulated in double). */
function meanF32(z: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < z.length; i++) sum += z[i];
  return Math.fround(sum / z.length);
}

/**
 * A1111 `EmphasisOriginal.after_transformers`, on float32 like torch:
 *   original_mean = z.mean(); z *= weights[..., None]; new_mean = z.mean(); z *= original_mean / new_mean
 *
 * `hidden` holds `weights.length` token vectors of `dim` values, row-major ([tokens, dim],
 * or [batch·tokens, dim] — A1111 takes the mean over the whole batch it encodes at once,
 * i.e. the same chunk of every text of one prompt's schedule). Returns a new array.
 * All-1.0 weights return the input values unchanged.
 */
export function applyEmphasis(hidden: Float32Array, weights: ArrayLike<number>, dim: number): Float32Array {
  checkShapes(hidden, weights, dim);
  const originalMean = meanF32(hidden);
  const z = applyEmphasisNoNorm(hidden, weights, dim);
  const newMean = meanF32(z);
  const ratio = Math.fround(originalMean / newMean);
  for (let i = 0; i < z.length; i++) z[i] = z[i] * ratio;
  return z;
}

/** A1111 `EmphasisNoNorm`: scale each token vector by its weight, without restoring the mean. Returns a new array. */
export function applyEmphasisNoNorm(hidden: Float32Array, weights: ArrayLike<number>, dim: number): Float32Array {
  checkShapes(hidden, weights, dim);
  const z = new Float32Array(hidden.length);
  for (let t = 0; t < weights.length; t++) {
    const w = Math.fround(weights[t]);
    const base = t * dim;
    for (let d = 0; d < dim; d++) z[base + d] = hidden[base + d] * w;
  }
  return z;
}

/** `torch.hstack` of per-chunk [tokens, dim] states into one [chunks·tokens, dim] array. */
export function concatChunkStates(states: readonly Float32Array[]): Float32Array {
  let total = 0;
  for (const s of states) total += s.length;
  const out = new Float32Array(total);
  let off = 0;
  for (const s of states) {
    out.set(s, off);
    off += s.length;
  }
  return out;
}
