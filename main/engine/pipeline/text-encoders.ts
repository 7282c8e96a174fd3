/**
 * Which text-encoder output conditions the UNet, per model family and clip skip, and how one
 * 77-token chunk is run through an encoder.
 *
 * Clip skip uses A1111's numbering: 1 = the last layer (default), 2 = the penultimate, …
 *  - single-encoder models (SD1/SD2/LCM/SD-Turbo), diffusers `clip_skip = n − 1`:
 *    `final_layer_norm(hidden_states[-n])`. ONNX exports do not expose `final_layer_norm`, so its
 *    per-channel affine map is recovered from one encoder run (see `recoverFinalLayerNorm`);
 *  - SDXL (both encoders): `hidden_states[-(n + 1)]`, no final norm — "SDXL always indexes from
 *    the penultimate layer", so the default n = 1 is hidden_states[-2].
 */
import type { LoadedModel } from '../loader';
import type { ComponentName } from '../model-info';
import type { EngineSession, EngineTensor } from '../ort-backend';
import type { ClipTokenizer } from '../tokenizer';
import { toFloat32 } from './tensors';
import { PipelineInputError } from './types';

export const MAX_CLIP_SKIP = 12;

export interface TextEncoderSpec {
  component: Extract<ComponentName, 'text_encoder' | 'text_encoder_2'>;
  tokenizer: ClipTokenizer;
  inputIdsType: 'int32' | 'int64';
  /** The per-token output fed to the UNet (`last_hidden_state` or `hidden_states.K`). */
  output: string;
  /** Re-apply the text model's final LayerNorm to `output` (single-encoder clip skip ≥ 2). */
  finalNorm: boolean;
  /** Read the pooled `text_embeds` (SDXL text_encoder_2). */
  pooled: boolean;
}

function hiddenStateNames(session: EngineSession): string[] {
  return session.outputs
    .map((o) => o.name)
    .filter((n) => /^hidden_states\.\d+$/.test(n))
    .sort((a, b) => Number(a.slice(14)) - Number(b.slice(14)));
}

/** `hidden_states[-k]` of an encoder as an output name (k ≥ 1), or a PipelineInputError naming the layer count. */
function fromEnd(session: EngineSession, component: string, k: number, clipSkip: number): string {
  const names = hiddenStateNames(session);
  const index = names.length - k;
  if (index < 0 || names[index] !== `hidden_states.${index}`) {
    throw new PipelineInputError(
      `clipSkip ${clipSkip} reaches past the first layer of ${component} (it exposes ${names.length} hidden states: ` +
        `${Math.max(0, names.length - 1)} layers + embeddings); use a smaller clipSkip.`,
    );
  }
  return names[index];
}

export function checkClipSkip(clipSkip: unknown): number {
  const n = clipSkip ?? 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_CLIP_SKIP) {
    throw new PipelineInputError(`clipSkip must be an integer from 1 to ${MAX_CLIP_SKIP} (got ${String(clipSkip)}); 1 = last CLIP layer.`);
  }
  return n;
}

/** The encoders to run, in the order their outputs are concatenated (text_encoder first). */
export async function textEncoderSpecs(model: LoadedModel, clipSkip: number): Promise<TextEncoderSpec[]> {
  const sig = model.signature;
  const te = await model.session('text_encoder');
  if (sig.textEncoder2 && model.tokenizer2) {
    const te2 = await model.session('text_encoder_2');
    return [
      { component: 'text_encoder', tokenizer: model.tokenizer, inputIdsType: sig.inputIdsType, output: fromEnd(te, 'text_encoder', clipSkip + 1, clipSkip), finalNorm: false, pooled: false },
      { component: 'text_encoder_2', tokenizer: model.tokenizer2, inputIdsType: sig.textEncoder2.inputIdsType, output: fromEnd(te2, 'text_encoder_2', clipSkip + 1, clipSkip), finalNorm: false, pooled: true },
    ];
  }
  if (clipSkip === 1) {
    return [{ component: 'text_encoder', tokenizer: model.tokenizer, inputIdsType: sig.inputIdsType, output: 'last_hidden_state', finalNorm: false, pooled: false }];
  }
  if (hiddenStateNames(te).length === 0) {
    const outs = te.outputs.map((o) => o.name).join(', ');
    throw new PipelineInputError(
      `clipSkip ${clipSkip} needs the text encoder's intermediate layers, but text_encoder/model.onnx only outputs ${outs}. ` +
        'Use clipSkip 1, or a text encoder exported with hidden_states.N outputs (optimum with output_hidden_states).',
    );
  }
  return [{ component: 'text_encoder', tokenizer: model.tokenizer, inputIdsType: sig.inputIdsType, output: fromEnd(te, 'text_encoder', clipSkip, clipSkip), finalNorm: true, pooled: false }];
}

export function idsTensor(ids: number[], type: 'int32' | 'int64'): EngineTensor {
  return type === 'int64'
    ? { type: 'int64', data: BigInt64Array.from(ids, (i) => BigInt(i)), dims: [1, ids.length] }
    : { type: 'int32', data: Int32Array.from(ids), dims: [1, ids.length] };
}

export interface ChunkOutput {
  /** [tokens, D] states of `spec.output` (final norm applied when asked). */
  states: Float32Array;
  hidden: number;
  /** `text_embeds` [P] when `spec.pooled`. */
  pooled: Float32Array | null;
}

/** One chunk (batch 1, exactly like the plain encoder call) through one encoder. */
export async function runTextEncoder(model: LoadedModel, spec: TextEncoderSpec, ids: number[], norm: FinalNorm | null): Promise<ChunkOutput> {
  const session = await model.session(spec.component);
  const out = await session.run({ input_ids: idsTensor(ids, spec.inputIdsType) });
  const t = out[spec.output];
  if (!t) throw new Error(`${spec.component} returned no "${spec.output}" output.`);
  const hidden = t.dims[2];
  let states = toFloat32(t);
  if (spec.finalNorm) {
    if (!norm) throw new Error('finalNorm requested without the recovered LayerNorm');
    states = norm.apply(states, hidden);
  }
  return { states, hidden, pooled: spec.pooled ? toFloat32(out.text_embeds).slice() : null };
}

export interface FinalNorm {
  gamma: Float64Array;
  beta: Float64Array;
  eps: number;
  apply(states: Float32Array, hidden: number): Float32Array;
}

/** Per-token LayerNorm normalisation (x − mean)/√(var + eps), biased variance as torch. */
function normalizeRows(x: Float32Array, hidden: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / hidden; r++) {
    const o = r * hidden;
    let mean = 0;
    for (let d = 0; d < hidden; d++) mean += x[o + d];
    mean /= hidden;
    let v = 0;
    for (let d = 0; d < hidden; d++) v += (x[o + d] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / hidden + eps);
    for (let d = 0; d < hidden; d++) out[o + d] = (x[o + d] - mean) * inv;
  }
  return out;
}

/**
 * `last_hidden_state = final_layer_norm(hidden_states[-1])`, and a LayerNorm is `γ·x̂ + β` per
 * channel, so one run that yields both recovers γ and β exactly (least squares per channel over
 * the 77 tokens). The fit is checked against the graph's own `last_hidden_state`; a graph whose
 * outputs are not related that way is refused rather than guessed at.
 */
export function recoverFinalLayerNorm(lastLayer: Float32Array, lastHiddenState: Float32Array, hidden: number, eps: number): FinalNorm {
  const xh = normalizeRows(lastLayer, hidden, eps);
  const rows = lastLayer.length / hidden;
  const gamma = new Float64Array(hidden);
  const beta = new Float64Array(hidden);
  let worst = 0;
  let scale = 1;
  for (let d = 0; d < hidden; d++) {
    let mx = 0;
    let my = 0;
    for (let r = 0; r < rows; r++) {
      mx += xh[r * hidden + d];
      my += lastHiddenState[r * hidden + d];
    }
    mx /= rows;
    my /= rows;
    let sxy = 0;
    let sxx = 0;
    for (let r = 0; r < rows; r++) {
      const dx = xh[r * hidden + d] - mx;
      sxy += dx * (lastHiddenState[r * hidden + d] - my);
      sxx += dx * dx;
    }
    gamma[d] = sxx > 0 ? sxy / sxx : 0;
    beta[d] = my - gamma[d] * mx;
    for (let r = 0; r < rows; r++) {
      const y = lastHiddenState[r * hidden + d];
      scale = Math.max(scale, Math.abs(y));
      worst = Math.max(worst, Math.abs(gamma[d] * xh[r * hidden + d] + beta[d] - y));
    }
  }
  if (!(worst <= 1e-3 * scale)) {
    throw new PipelineInputError(
      `clip skip is not possible with this text encoder: its last hidden_states output is not the input of the final LayerNorm ` +
        `(reconstruction error ${worst.toExponential(2)}). Use clipSkip 1.`,
    );
  }
  return {
    gamma,
    beta,
    eps,
    apply(states, dim) {
      const x = normalizeRows(states, dim, eps);
      const out = new Float32Array(states.length);
      for (let i = 0; i < out.length; i++) out[i] = gamma[i % dim] * x[i] + beta[i % dim];
      return out;
    },
  };
}

const normCache = new WeakMap<LoadedModel, FinalNorm>();

/** The text model's final LayerNorm, recovered once per loaded model from the empty prompt. */
export async function finalLayerNorm(model: LoadedModel, emptyIds: number[]): Promise<FinalNorm> {
  const hit = normCache.get(model);
  if (hit) return hit;
  const session = await model.session('text_encoder');
  const names = hiddenStateNames(session);
  const out = await session.run({ input_ids: idsTensor(emptyIds, model.signature.inputIdsType) });
  const lhs = out.last_hidden_state;
  const cfgEps = model.info.components.text_encoder.config?.layer_norm_eps;
  const eps = typeof cfgEps === 'number' && cfgEps > 0 ? cfgEps : 1e-5; // CLIPTextConfig default
  const norm = recoverFinalLayerNorm(toFloat32(out[names[names.length - 1]]), toFloat32(lhs), lhs.dims[2], eps);
  normCache.set(model, norm);
  return norm;
}
