/**
 * Step 2: prompt → encoder_hidden_states, the AUTOMATIC1111 way.
 *
 *  - prompt editing `[from:to:when]` / alternation `[a|b]`: `getPromptSchedules(prompt, steps)`
 *    gives the text per step; each distinct text is encoded once and the pipeline asks
 *    `embedsAt(step)` for the conditioning of the current step;
 *  - attention `(word:1.3)`, `[word]`, `BREAK` and long prompts: `tokenizeWeightedPrompt`
 *    packs tokens into 75-token chunks (77 with BOS/EOS); every chunk is encoded on its own,
 *    emphasis is applied per chunk index across the texts of one prompt (A1111 encodes them
 *    as one batch and restores the batch mean), and the chunks are concatenated along the
 *    sequence axis;
 *  - the negative prompt and the positive prompt are padded with empty-prompt chunks to the
 *    same chunk count (A1111 `pad_cond_uncond`) so CFG can batch them.
 *
 * SDXL runs both text encoders on every chunk (each with its own tokenizer and pad token),
 * applies emphasis per encoder as A1111 does per embedder, and concatenates their per-token states
 * along the hidden axis (768 + 1280 = 2048); the pooled `text_embeds` come from the first chunk of
 * text_encoder_2 (A1111 `zs[0].pooled`). An empty negative prompt on a `force_zeros_for_empty_prompt`
 * model is zeros, embeddings and pooled alike, without an encoder pass (diffusers).
 *
 * A plain prompt (≤ 75 tokens, no syntax) gives exactly diffusers' `encodePadded` ids and the
 * unmodified `last_hidden_state`, i.e. the same embeddings as plain truncating encoding.
 */
import { concatBatch, repeatBatch } from '../cfg';
import type { LoadedModel } from '../loader';
import {
  applyEmphasis,
  commaTokenId,
  concatChunkStates,
  emptyChunk,
  getPromptSchedules,
  PromptSyntaxError,
  tokenizeWeightedPrompt,
  type ChunkOptions,
  type PromptChunk,
  type WeightedPrompt,
} from '../prompt';
import type { ClipTokenizer } from '../tokenizer';
import { checkClipSkip, finalLayerNorm, runTextEncoder, textEncoderSpecs, type ChunkOutput, type FinalNorm, type TextEncoderSpec } from './text-encoders';
import { PipelineInputError } from './types';

export interface PromptConditioning {
  /** Tokens per chunk as fed to the text encoder (77). */
  readonly chunkTokens: number;
  /** Current sequence length S of `embedsAt` (chunks · 77). */
  readonly seqLen: number;
  /** Width D of `embedsAt` (both encoders together for SDXL). */
  readonly hidden: number;
  /** Chunks per text after padding (before any `limitSequence`). */
  readonly chunks: number;
  /** True when text was dropped (a UNet with a fixed sequence axis). */
  readonly truncated: boolean;
  /** Distinct positive / negative texts encoded (prompt editing makes several). */
  readonly texts: { positive: string[]; negative: string[] };
  /** Width P of `pooledAt` rows (SDXL `text_embeds`), 0 when the model has no pooled conditioning. */
  readonly pooledSize: number;
  /** `[unetBatch, S, D]` float32 for a 0-based step index; the same array for steps sharing a text. */
  embedsAt(step: number): Float32Array;
  /** `[unetBatch, P]` pooled embeddings (negative rows first under CFG), or null without text_encoder_2. */
  pooledAt(step: number): Float32Array | null;
  /** Cache key of `embedsAt(step)` (equal keys → identical embeddings). */
  keyAt(step: number): string;
  /** Keep only as many whole chunks as fit `maxSeq` tokens (fixed-shape UNets); sets `truncated` if text is lost. */
  limitSequence(maxSeq: number): void;
}

export interface EncodePromptArgs {
  prompt: string;
  negativePrompt: string;
  /** Steps the schedule spans (the steps that actually run). */
  steps: number;
  batch: number;
  doCfg: boolean;
  /** A1111 clip skip (1 = last layer); validated here. */
  clipSkip?: number;
  /**
   * Use zeros for the negative branch instead of encoding it (SDXL `force_zeros_for_empty_prompt`
   * with an empty negative prompt). Callers pass `zeroNegativeFor(model, negativePrompt)`.
   */
  zeroNegative?: boolean;
}

/** diffusers `negative_prompt is None and force_zeros_for_empty_prompt` (an empty string counts as none). */
export function zeroNegativeFor(model: LoadedModel, negativePrompt: string | undefined): boolean {
  return Boolean(model.signature.sdxl?.forceZerosForEmptyPrompt) && (negativePrompt ?? '').trim() === '';
}

interface EncodedSchedule {
  /** Last step (inclusive) of each entry, ascending. */
  ends: number[];
  /** Per entry: [chunks·77, D] states. */
  states: Float32Array[];
  /** Per entry: [P] pooled embedding (SDXL), else null. */
  pooled: Array<Float32Array | null>;
  texts: string[];
  chunks: number;
}

function pickEntry(ends: number[], step: number): number {
  for (let i = 0; i < ends.length; i++) if (step <= ends[i]) return i;
  return ends.length - 1;
}

/** Per-token concatenation along the hidden axis: parts[e] is [tokens, dims[e]] → [tokens, Σdims]. */
export function concatHidden(parts: readonly Float32Array[], dims: readonly number[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const total = dims.reduce((a, b) => a + b, 0);
  const tokens = parts[0].length / dims[0];
  const out = new Float32Array(tokens * total);
  for (let t = 0; t < tokens; t++) {
    let o = t * total;
    parts.forEach((p, e) => {
      out.set(p.subarray(t * dims[e], (t + 1) * dims[e]), o);
      o += dims[e];
    });
  }
  return out;
}

/** A prompt parsed and tokenized for every encoder, before any session runs. */
interface PromptPlan {
  ends: number[];
  texts: string[];
  unique: string[];
  /** [encoder][unique text] */
  tokenized: WeightedPrompt[][];
}

/** Per-encoder tokenizers and their chunk layout (SDXL has two, each with its own pad token). */
interface TokenizerSetup {
  tokenizers: ClipTokenizer[];
  chunkOpts: ChunkOptions[];
  commaIds: Array<number | null>;
}

function tokenizerSetup(model: LoadedModel, chunkTokens: number): TokenizerSetup {
  const tokenizers: ClipTokenizer[] = model.signature.textEncoder2 && model.tokenizer2 ? [model.tokenizer, model.tokenizer2] : [model.tokenizer];
  const chunkOpts: ChunkOptions[] = tokenizers.map((tok) => ({ bosId: tok.bosId, eosId: tok.eosId, padId: tok.padId, chunkLength: chunkTokens - 2 }));
  const commaIds = tokenizers.map((tok) => commaTokenId(tok));
  return { tokenizers, chunkOpts, commaIds };
}

/** Schedule and tokenize one prompt; a syntax error becomes a PipelineInputError naming the field. */
function planPrompt(prompt: string, which: string, steps: number, setup: TokenizerSetup): PromptPlan {
  try {
    const schedule = getPromptSchedules(prompt, steps);
    const texts = schedule.map(([, t]) => t);
    const unique = [...new Set(texts)];
    const tokenized = setup.tokenizers.map((tok, e) =>
      unique.map((t) => tokenizeWeightedPrompt(t, tok, { commaId: setup.commaIds[e], chunkLength: setup.chunkOpts[e].chunkLength })),
    );
    return { ends: schedule.map(([end]) => end), texts, unique, tokenized };
  } catch (err) {
    if (err instanceof PromptSyntaxError) throw new PipelineInputError(`${which} has invalid syntax: ${err.message}`);
    throw err;
  }
}

/**
 * Runs 77-token chunks through the text encoders, one at a time (batch 1, exactly like the plain
 * encoder call), caching by encoder and ids; records each encoder's width and the pooled width as
 * the outputs reveal them.
 */
class ChunkEncoder {
  readonly dims: number[];
  pooledSize = 0;
  private readonly cache = new Map<string, ChunkOutput>();

  constructor(
    private readonly model: LoadedModel,
    readonly specs: TextEncoderSpec[],
    private readonly norm: FinalNorm | null,
    readonly chunkOpts: ChunkOptions[],
    readonly chunkTokens: number,
  ) {
    this.dims = specs.map(() => 0);
  }

  /** One chunk through encoder `e` → [77, D_e]. */
  async encode(e: number, ids: number[]): Promise<ChunkOutput> {
    const key = `${e}:${ids.join(',')}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const out = await runTextEncoder(this.model, this.specs[e], ids, this.specs[e].finalNorm ? this.norm : null);
    this.dims[e] = out.hidden;
    if (out.pooled) this.pooledSize = out.pooled.length;
    this.cache.set(key, out);
    return out;
  }

  /** The empty-prompt chunk through every encoder, concatenated along the hidden axis. */
  async encodeEmpty(): Promise<Float32Array> {
    const parts: Float32Array[] = [];
    for (let e = 0; e < this.specs.length; e++) parts.push((await this.encode(e, emptyChunk(this.chunkOpts[e]).tokens)).states);
    return concatHidden(parts, this.dims);
  }
}

async function createChunkEncoder(model: LoadedModel, clipSkip: number, chunkOpts: ChunkOptions[], chunkTokens: number): Promise<ChunkEncoder> {
  const specs: TextEncoderSpec[] = await textEncoderSpecs(model, clipSkip);
  const norm: FinalNorm | null = specs.some((s) => s.finalNorm) ? await finalLayerNorm(model, emptyChunk(chunkOpts[0]).tokens) : null;
  return new ChunkEncoder(model, specs, norm, chunkOpts, chunkTokens);
}

/**
 * Chunk `ci` of every unique text through encoder `e` → one [77, D_e] array per text. A1111
 * batch_chunks: texts with fewer chunks get empty chunks; emphasis over the whole batch, per encoder.
 * Fills `pooledByText` from text_encoder_2's first chunk.
 */
async function encodeChunkAcrossTexts(
  encoder: ChunkEncoder,
  tokenized: WeightedPrompt[],
  e: number,
  ci: number,
  pooledByText: Array<Float32Array | null>,
): Promise<Float32Array[]> {
  const batchChunk: PromptChunk[] = tokenized.map((w) => w.chunks[ci] ?? emptyChunk(encoder.chunkOpts[e]));
  const outs: ChunkOutput[] = [];
  for (const c of batchChunk) outs.push(await encoder.encode(e, c.tokens));
  let states = outs.map((o) => o.states);
  const weights = batchChunk.flatMap((c) => c.weights);
  if (weights.some((w) => w !== 1)) {
    const dim = encoder.dims[e];
    const z = applyEmphasis(concatChunkStates(states), weights, dim);
    const per = encoder.chunkTokens * dim;
    states = states.map((_, i) => z.slice(i * per, (i + 1) * per));
  }
  if (ci === 0 && encoder.specs[e].pooled) outs.forEach((o, i) => (pooledByText[i] = o.pooled));
  return states;
}

/** Every chunk of every distinct text of one prompt through every encoder, then mapped back to the schedule. */
async function encodeSchedule(encoder: ChunkEncoder, { ends, texts, unique, tokenized }: PromptPlan): Promise<EncodedSchedule> {
  const chunks = Math.max(1, ...tokenized.flatMap((perText) => perText.map((w) => w.chunks.length)));
  const perText: Float32Array[][] = unique.map(() => []);
  const pooledByText: Array<Float32Array | null> = unique.map(() => null);
  for (let ci = 0; ci < chunks; ci++) {
    const perEncoder: Float32Array[][] = [];
    for (let e = 0; e < encoder.specs.length; e++) perEncoder.push(await encodeChunkAcrossTexts(encoder, tokenized[e], e, ci, pooledByText));
    unique.forEach((_, i) => perText[i].push(concatHidden(perEncoder.map((s) => s[i]), encoder.dims)));
  }
  const byText = new Map(unique.map((t, i) => [t, i] as const));
  return {
    ends,
    states: texts.map((t) => concatChunkStates(perText[byText.get(t)!])),
    pooled: texts.map((t) => pooledByText[byText.get(t)!]),
    texts: unique,
    chunks,
  };
}

/** A1111 pad_cond_uncond: append empty-prompt embeddings to the shorter schedule(s) so both have `chunks`. */
async function padToChunks(encoder: ChunkEncoder, schedules: EncodedSchedule[], chunks: number): Promise<void> {
  if (!schedules.some((s) => chunks > s.chunks)) return;
  const empty = await encoder.encodeEmpty();
  for (const enc of schedules) {
    const missing = chunks - enc.chunks;
    if (missing > 0) enc.states = enc.states.map((s) => concatChunkStates([s, ...new Array<Float32Array>(missing).fill(empty)]));
  }
}

/** diffusers `force_zeros_for_empty_prompt`: a negative branch of zeros (embeddings and pooled), one entry for all steps. */
function zeroSchedule(chunks: number, chunkTokens: number, hidden: number, pooledSize: number): EncodedSchedule {
  return {
    ends: [Number.POSITIVE_INFINITY],
    states: [new Float32Array(chunks * chunkTokens * hidden)],
    pooled: [pooledSize > 0 ? new Float32Array(pooledSize) : null],
    texts: [''],
    chunks,
  };
}

export async function encodePrompt(model: LoadedModel, args: EncodePromptArgs): Promise<PromptConditioning> {
  // 1. Check inputs: clip skip, then parse and tokenize both prompts before any session runs,
  //    so syntax errors surface as input errors.
  const chunkTokens = model.signature.sequenceLength;
  const clipSkip = checkClipSkip(args.clipSkip);
  const setup = tokenizerSetup(model, chunkTokens);
  const posPlan = planPrompt(args.prompt, 'prompt', args.steps, setup);
  const zeroNegative = args.doCfg && Boolean(args.zeroNegative);
  const negPlan = args.doCfg && !zeroNegative ? planPrompt(args.negativePrompt, 'negativePrompt', args.steps, setup) : null;

  // 2. Encode every distinct text of both prompts, chunk by chunk, through every encoder.
  const encoder = await createChunkEncoder(model, clipSkip, setup.chunkOpts, chunkTokens);
  const pos = await encodeSchedule(encoder, posPlan);
  let neg = negPlan ? await encodeSchedule(encoder, negPlan) : null;

  // 3. Same chunk count for both branches so CFG can batch them.
  const chunks = Math.max(pos.chunks, neg?.chunks ?? 0);
  await padToChunks(encoder, neg ? [pos, neg] : [pos], chunks);
  for (const s of encoder.specs) await model.finished(s.component);
  const hidden = encoder.dims.reduce((a, b) => a + b, 0);
  if (zeroNegative) neg = zeroSchedule(chunks, chunkTokens, hidden, encoder.pooledSize);

  // 4. Per-step lookups with batch expansion (negative rows first under CFG).
  return conditioningFor({ pos, neg, chunks, chunkTokens, hidden, pooledSize: encoder.pooledSize, batch: args.batch, zeroNegative });
}

interface ConditioningParts {
  pos: EncodedSchedule;
  neg: EncodedSchedule | null;
  chunks: number;
  chunkTokens: number;
  hidden: number;
  pooledSize: number;
  batch: number;
  zeroNegative: boolean;
}

/** The PromptConditioning over encoded schedules: per-step batch-expanded embeddings, cached by schedule entry. */
function conditioningFor({ pos, neg, chunks, chunkTokens, hidden, pooledSize, batch, zeroNegative }: ConditioningParts): PromptConditioning {
  let keep = chunks;
  let truncated = false;
  const cache = new Map<string, Float32Array>();
  const pooledCache = new Map<string, Float32Array>();
  const keyAt = (step: number): string => `${pickEntry(pos.ends, step)}:${neg ? pickEntry(neg.ends, step) : '-'}`;
  const trim = (s: Float32Array): Float32Array => (keep === chunks ? s : s.subarray(0, keep * chunkTokens * hidden));

  return {
    chunkTokens,
    get seqLen() {
      return keep * chunkTokens;
    },
    hidden,
    chunks,
    get truncated() {
      return truncated;
    },
    texts: { positive: pos.texts, negative: neg?.texts ?? [] },
    pooledSize,
    keyAt,
    embedsAt(step) {
      const key = keyAt(step);
      let e = cache.get(key);
      if (!e) {
        const p = repeatBatch(trim(pos.states[pickEntry(pos.ends, step)]), batch);
        e = neg ? concatBatch(repeatBatch(trim(neg.states[pickEntry(neg.ends, step)]), batch), p) : p;
        cache.set(key, e);
      }
      return e;
    },
    pooledAt(step) {
      if (pooledSize === 0) return null;
      const key = keyAt(step);
      let e = pooledCache.get(key);
      if (!e) {
        const p = repeatBatch(pos.pooled[pickEntry(pos.ends, step)]!, batch);
        e = neg ? concatBatch(repeatBatch(neg.pooled[pickEntry(neg.ends, step)]!, batch), p) : p;
        pooledCache.set(key, e);
      }
      return e;
    },
    limitSequence(maxSeq) {
      const fit = Math.max(1, Math.floor(maxSeq / chunkTokens));
      if (fit >= keep) return;
      // Only text chunks count as lost; empty padding chunks are not.
      truncated = Math.min(pos.chunks, chunks) > fit || (neg !== null && !zeroNegative && neg.chunks > fit);
      keep = fit;
      cache.clear();
    },
  };
}
