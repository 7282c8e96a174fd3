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
 * A plain prompt (≤ 75 tokens, no syntax) gives exactly diffusers' `encodePadded` ids and the
 * unmodified `last_hidden_state`, i.e. the same embeddings as plain truncating encoding.
 */
import { concatBatch, repeatBatch } from '../cfg';
import type { LoadedModel } from '../loader';
import type { EngineSession, EngineTensor } from '../ort-backend';
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
import { toFloat32 } from './tensors';
import { PipelineInputError } from './types';

export interface PromptConditioning {
  /** Tokens per chunk as fed to the text encoder (77). */
  readonly chunkTokens: number;
  /** Current sequence length S of `embedsAt` (chunks · 77). */
  readonly seqLen: number;
  readonly hidden: number;
  /** Chunks per text after padding (before any `limitSequence`). */
  readonly chunks: number;
  /** True when text was dropped (a UNet with a fixed sequence axis). */
  readonly truncated: boolean;
  /** Distinct positive / negative texts encoded (prompt editing makes several). */
  readonly texts: { positive: string[]; negative: string[] };
  /** `[unetBatch, S, D]` float32 for a 0-based step index; the same array for steps sharing a text. */
  embedsAt(step: number): Float32Array;
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
}

interface EncodedSchedule {
  /** Last step (inclusive) of each entry, ascending. */
  ends: number[];
  /** Per entry: [chunks·77, D] states. */
  states: Float32Array[];
  texts: string[];
  chunks: number;
}

function pickEntry(ends: number[], step: number): number {
  for (let i = 0; i < ends.length; i++) if (step <= ends[i]) return i;
  return ends.length - 1;
}

export async function encodePrompt(model: LoadedModel, args: EncodePromptArgs): Promise<PromptConditioning> {
  const tok = model.tokenizer;
  const chunkTokens = model.signature.sequenceLength;
  const chunkOpts: ChunkOptions = { bosId: tok.bosId, eosId: tok.eosId, padId: tok.padId, chunkLength: chunkTokens - 2 };
  const commaId = commaTokenId(tok);
  let session: EngineSession | null = null; // opened on first use, after both prompts parsed
  let hidden = 0;

  // One chunk → last_hidden_state [77, D] (batch 1, exactly like the plain encoder call).
  const chunkCache = new Map<string, Float32Array>();
  const encodeChunk = async (ids: number[]): Promise<Float32Array> => {
    const key = ids.join(',');
    const hit = chunkCache.get(key);
    if (hit) return hit;
    const input: EngineTensor =
      model.signature.inputIdsType === 'int64'
        ? { type: 'int64', data: BigInt64Array.from(ids, (i) => BigInt(i)), dims: [1, ids.length] }
        : { type: 'int32', data: Int32Array.from(ids), dims: [1, ids.length] };
    session ??= await model.session('text_encoder');
    const out = await session.run({ input_ids: input });
    const lhs = out.last_hidden_state;
    hidden = lhs.dims[2];
    const states = toFloat32(lhs);
    chunkCache.set(key, states);
    return states;
  };

  // Parse and tokenize both prompts before any session runs, so syntax errors surface as input errors.
  interface Plan {
    ends: number[];
    texts: string[];
    unique: string[];
    tokenized: WeightedPrompt[];
  }
  const plan = (prompt: string, which: string): Plan => {
    try {
      const schedule = getPromptSchedules(prompt, args.steps);
      const texts = schedule.map(([, t]) => t);
      const unique = [...new Set(texts)];
      const tokenized = unique.map((t) => tokenizeWeightedPrompt(t, tok, { commaId, chunkLength: chunkOpts.chunkLength }));
      return { ends: schedule.map(([end]) => end), texts, unique, tokenized };
    } catch (err) {
      if (err instanceof PromptSyntaxError) throw new PipelineInputError(`${which} has invalid syntax: ${err.message}`);
      throw err;
    }
  };
  const posPlan = plan(args.prompt, 'prompt');
  const negPlan = args.doCfg ? plan(args.negativePrompt, 'negativePrompt') : null;

  const encodeSchedule = async ({ ends, texts, unique, tokenized }: Plan): Promise<EncodedSchedule> => {
    const chunks = Math.max(1, ...tokenized.map((w) => w.chunks.length));
    const perText: Float32Array[][] = unique.map(() => []);
    for (let ci = 0; ci < chunks; ci++) {
      // A1111 batch_chunks: texts with fewer chunks get empty chunks; emphasis over the whole batch.
      const batchChunk: PromptChunk[] = tokenized.map((w) => w.chunks[ci] ?? emptyChunk(chunkOpts));
      const states: Float32Array[] = [];
      for (const c of batchChunk) states.push(await encodeChunk(c.tokens));
      const weights = batchChunk.flatMap((c) => c.weights);
      if (weights.some((w) => w !== 1)) {
        const z = applyEmphasis(concatChunkStates(states), weights, hidden);
        const per = chunkTokens * hidden;
        states.forEach((_, i) => (states[i] = z.slice(i * per, (i + 1) * per)));
      }
      states.forEach((s, i) => perText[i].push(s));
    }
    const byText = new Map(unique.map((t, i) => [t, perText[i]] as const));
    return { ends, states: texts.map((t) => concatChunkStates(byText.get(t)!)), texts: unique, chunks };
  };

  const pos = await encodeSchedule(posPlan);
  const neg = negPlan ? await encodeSchedule(negPlan) : null;
  const chunks = Math.max(pos.chunks, neg?.chunks ?? 0);
  if (chunks > pos.chunks || (neg && chunks > neg.chunks)) {
    // A1111 pad_cond_uncond: append empty-prompt embeddings to the shorter one.
    const empty = await encodeChunk(emptyChunk(chunkOpts).tokens);
    for (const enc of neg ? [pos, neg] : [pos]) {
      const missing = chunks - enc.chunks;
      if (missing > 0) enc.states = enc.states.map((s) => concatChunkStates([s, ...new Array<Float32Array>(missing).fill(empty)]));
    }
  }
  await model.finished('text_encoder');

  let keep = chunks;
  let truncated = false;
  const cache = new Map<string, Float32Array>();
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
    keyAt,
    embedsAt(step) {
      const key = keyAt(step);
      let e = cache.get(key);
      if (!e) {
        const p = repeatBatch(trim(pos.states[pickEntry(pos.ends, step)]), args.batch);
        e = neg ? concatBatch(repeatBatch(trim(neg.states[pickEntry(neg.ends, step)]), args.batch), p) : p;
        cache.set(key, e);
      }
      return e;
    },
    limitSequence(maxSeq) {
      const fit = Math.max(1, Math.floor(maxSeq / chunkTokens));
      if (fit >= keep) return;
      // Only text chunks count as lost; empty padding chunks are not.
      truncated = Math.min(pos.chunks, chunks) > fit || (neg !== null && neg.chunks > fit);
      keep = fit;
      cache.clear();
    },
  };
}
