/**
 * detectSignature(info, graph metadata): the family and exporter variant of a diffusers-ONNX
 * model, read from each graph's input/output names, element types and shapes (config files only
 * fill static gaps) — never from folder names. Every mismatch is a ModelLoadError naming the file.
 */
import { join } from 'node:path';
import { isResidualInputName } from './controlnet/graph-io';
import { ModelLoadError } from './model-errors';
import { classifyFamily, type ComponentName, type ModelFamily, type ModelInfo } from './model-info';
import type { TensorInfo } from './ort-backend';

export type { ModelFamily };
export type FloatType = 'float32' | 'float16';

export interface ModelSignature {
  family: ModelFamily;
  /** Families the pipelines can run (all detected families since SDXL and LCM support). */
  supported: boolean;
  /** Guidance-distilled SD-Turbo / SDXL-Turbo: 1–4 steps, guidance 0, trailing spacing. */
  turbo: boolean;
  predictionType: 'epsilon' | 'v_prediction' | 'sample';
  /** UNet `timestep` input: element type, rank (0 = scalar []), and the static length when rank 1 has one. */
  timestep: { type: 'int64' | 'float32' | 'float16'; rank: 0 | 1; length: number };
  inputIdsType: 'int32' | 'int64';
  /** Token sequence length the text encoder takes (77 unless the graph fixes another). */
  sequenceLength: number;
  /** Element types of the float tensors each graph exchanges (fp16 = Olive-style fp16 I/O). */
  io: {
    textEncoderOutput: FloatType;
    unetSample: FloatType;
    unetEncoderHiddenStates: FloatType;
    unetOutput: FloatType;
    vaeDecoderInput: FloatType;
    vaeDecoderOutput: FloatType;
    vaeEncoderInput?: FloatType;
    vaeEncoderOutput?: FloatType;
  };
  /** True when every float input/output is fp16. */
  fp16: boolean;
  unetInChannels: 4 | 9;
  /** Text-encoder hidden size D (768 SD1, 1024 SD2); null when no graph or config states it. */
  hiddenSize: number | null;
  /** `latent_sample` (sampled in-graph) or `latent_parameters` (mean‖logvar); null without vae_encoder. */
  vaeEncoderOutput: 'latent_sample' | 'latent_parameters' | null;
  /** Number of `hidden_states.N` outputs of the text encoder (0 for SD1/SD2 exports). */
  hiddenStatesOutputs: number;
  /** UNet `timestep_cond` width (LCM), when present. */
  timeCondProjDim: number | null;
  /** Extra UNet conditioning inputs (SDXL `text_embeds`, `time_ids`). */
  sdxlConditioning: boolean;
  /** SDXL's second text encoder (CLIPTextModelWithProjection); null for single-encoder models. */
  textEncoder2: TextEncoder2Signature | null;
  /** SDXL micro-conditioning as the UNet graph takes it; null without `text_embeds`/`time_ids`. */
  sdxl: SdxlSignature | null;
  /** vae_decoder/config.json `force_upcast` (SDXL's VAE overflows in fp16). */
  vaeForceUpcast: boolean;
}

export interface TextEncoder2Signature {
  inputIdsType: 'int32' | 'int64';
  /** Width of its `hidden_states.N` outputs (1280 for bigG); null when no graph or config states it. */
  hiddenSize: number | null;
  /** Width of `text_embeds` (the pooled, projected output). */
  pooledSize: number | null;
  hiddenStatesOutputs: number;
}

export interface SdxlSignature {
  /** Columns of `time_ids`: 6 = (orig h, w, crop top, left, target h, w); 5 = aesthetic-score variant (refiner). */
  timeIdsLength: 5 | 6;
  /** Width of the UNet's `text_embeds` input. */
  pooledSize: number | null;
  /** Width of `encoder_hidden_states` = text_encoder + text_encoder_2 hidden sizes (2048 for SDXL). */
  crossAttentionDim: number | null;
  /** An empty negative prompt becomes zeros instead of an encoder pass (model_index.json). */
  forceZerosForEmptyPrompt: boolean;
}

const DEMO_ENGINE_NAMES = new Set(['latent', 'images', 'text_embeddings']);

// ---------------------------------------------------------------------------
// Graph metadata checks
// ---------------------------------------------------------------------------

class GraphChecker {
  constructor(
    private readonly file: string,
    private readonly inputs: readonly TensorInfo[],
    private readonly outputs: readonly TensorInfo[],
    private readonly component: string,
  ) {}

  private names(list: readonly TensorInfo[]) {
    return list.map((t) => `"${t.name}"`).join(', ') || 'none';
  }

  private find(kind: 'input' | 'output', name: string, role: string): TensorInfo {
    const list = kind === 'input' ? this.inputs : this.outputs;
    const hit = list.find((t) => t.name === name);
    if (hit) return hit;
    const demo = list.find((t) => DEMO_ENGINE_NAMES.has(t.name));
    throw new ModelLoadError({
      file: this.file,
      code: 'wrong-io-names',
      problem: `${this.component} has no ${kind} named "${name}" (${kind}s: ${this.names(list)})`,
      expected: `${kind} "${name}" (${role}) as in diffusers-ONNX exports (optimum, diffusers script, Olive)`,
      hint: demo
        ? `"${demo.name}" is ONNX Runtime's CUDA demo-engine naming, a different graph format; use a diffusers-layout export.`
        : undefined,
    });
  }

  input(name: string, role: string, ranks: number[], types: string[]): TensorInfo {
    return this.check(this.find('input', name, role), 'input', role, ranks, types);
  }

  output(name: string, role: string, ranks: number[], types: string[]): TensorInfo {
    return this.check(this.find('output', name, role), 'output', role, ranks, types);
  }

  optionalOutput(name: string): TensorInfo | undefined {
    return this.outputs.find((t) => t.name === name);
  }

  check(t: TensorInfo, kind: string, role: string, ranks: number[], types: string[]): TensorInfo {
    if (!types.includes(t.type)) {
      throw new ModelLoadError({
        file: this.file,
        code: 'wrong-dtype',
        problem: `${this.component} ${kind} "${t.name}" has element type ${t.type}`,
        expected: `${types.join(' or ')} for ${role}`,
      });
    }
    if (!ranks.includes(t.shape.length)) {
      throw new ModelLoadError({
        file: this.file,
        code: 'wrong-rank',
        problem: `${this.component} ${kind} "${t.name}" has rank ${t.shape.length} (shape [${t.shape.join(', ')}])`,
        expected: `rank ${ranks.join(' or ')} for ${role}`,
      });
    }
    return t;
  }

  staticDim(name: string, t: TensorInfo, axis: number, allowed: number[], what: string): void {
    const d = t.shape[axis];
    if (typeof d === 'number' && d > 0 && !allowed.includes(d)) {
      throw new ModelLoadError({
        file: this.file,
        code: 'wrong-rank',
        problem: `${this.component} "${name}" has ${d} ${what} (shape [${t.shape.join(', ')}])`,
        expected: `${allowed.join(' or ')} ${what}`,
      });
    }
  }
}

const FLOATS = ['float32', 'float16'];

function dimOf(t: TensorInfo | undefined, axis: number): number | null {
  const d = t?.shape[axis];
  return typeof d === 'number' && d > 0 ? d : null;
}

function numberOr(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

type GraphMeta = Partial<Record<ComponentName, { inputs: readonly TensorInfo[]; outputs: readonly TensorInfo[] }>>;
type GraphIo = NonNullable<GraphMeta[ComponentName]>;

/** text_encoder: `input_ids` in, `last_hidden_state` (+ optional `hidden_states.N`) out. */
function checkTextEncoder(info: ModelInfo, te: GraphIo) {
  const tc = new GraphChecker(info.components.text_encoder.model, te.inputs, te.outputs, 'text_encoder');
  const ids = tc.input('input_ids', 'token ids [batch, 77]', [2], ['int32', 'int64']);
  const lhs = tc.output('last_hidden_state', 'text embeddings [batch, 77, hidden]', [3], FLOATS);
  const hiddenStatesOutputs = te.outputs.filter((o) => /^hidden_states\.\d+$/.test(o.name)).length;
  return { ids, lhs, hiddenStatesOutputs };
}

/** unet: the required inputs and output, no unknown inputs, and 4 or 9 input channels agreeing with config.json. */
function checkUnet(info: ModelInfo, un: GraphIo) {
  const unFile = info.components.unet.model;
  const uc = new GraphChecker(unFile, un.inputs, un.outputs, 'unet');
  const sample = uc.input('sample', 'noisy latents [batch, 4|9, h, w]', [4], FLOATS);
  const timestep = uc.input('timestep', 'the diffusion timestep ([], [1] or [batch])', [0, 1], ['int64', 'float32', 'float16']);
  const ehs = uc.input('encoder_hidden_states', 'prompt embeddings [batch, 77, hidden]', [3], FLOATS);
  const out = uc.output('out_sample', 'predicted noise [batch, 4, h, w]', [4], FLOATS);
  uc.staticDim('out_sample', out, 1, [4], 'channels');
  const known = new Set(['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids', 'timestep_cond']);
  // ControlNet residual inputs (onnx-web/Amblyopius export their UNet with them): fed by controlnet/, zeros without a ControlNet.
  const extra = un.inputs.filter((i) => !known.has(i.name) && !isResidualInputName(i.name));
  if (extra.length) {
    throw new ModelLoadError({
      file: unFile, code: 'wrong-io-names',
      problem: `unet has unexpected input(s) ${extra.map((e) => `"${e.name}"`).join(', ')}`,
      expected: 'inputs sample, timestep, encoder_hidden_states (+ text_embeds, time_ids for SDXL; timestep_cond for LCM)',
    });
  }
  const inChannels = unetInChannels(info, sample);
  return { uc, sample, timestep, ehs, out, inChannels };
}

function unetInChannels(info: ModelInfo, sample: TensorInfo): 4 | 9 {
  const graphChannels = dimOf(sample, 1);
  const cfgChannels = numberOr((info.components.unet.config ?? {}).in_channels);
  if (graphChannels !== null && cfgChannels !== null && graphChannels !== cfgChannels) {
    throw new ModelLoadError({
      file: join(info.components.unet.dir, 'config.json'), code: 'mismatch',
      problem: `in_channels is ${cfgChannels} but unet/model.onnx "sample" has ${graphChannels} channels`,
      expected: 'config.json to describe the graph next to it',
    });
  }
  const inChannels = graphChannels ?? cfgChannels ?? 4;
  if (inChannels !== 4 && inChannels !== 9) {
    throw new ModelLoadError({
      file: info.components.unet.model, code: 'wrong-rank',
      problem: `unet "sample" has ${inChannels} channels (shape [${sample.shape.join(', ')}])`,
      expected: '4 latent channels (text-to-image) or 9 (inpainting: latents + mask + masked-image latents)',
    });
  }
  return inChannels as 4 | 9;
}

/** vae_decoder: 4-channel `latent_sample` in, 3-channel `sample` out. */
function checkVaeDecoder(info: ModelInfo, vd: GraphIo) {
  const vc = new GraphChecker(info.components.vae_decoder.model, vd.inputs, vd.outputs, 'vae_decoder');
  const vdIn = vc.input('latent_sample', 'latents [batch, 4, h, w]', [4], FLOATS);
  vc.staticDim('latent_sample', vdIn, 1, [4], 'channels');
  const vdOut = vc.output('sample', 'image [batch, 3, 8h, 8w]', [4], FLOATS);
  vc.staticDim('sample', vdOut, 1, [3], 'channels');
  return { vdIn, vdOut };
}

/** vae_encoder (optional): `sample` in, `latent_parameters` (mean‖logvar) or `latent_sample` out. */
function checkVaeEncoder(info: ModelInfo, meta: GraphMeta) {
  let vaeEncoderOutput: ModelSignature['vaeEncoderOutput'] = null;
  let veIn: TensorInfo | undefined;
  let veOut: TensorInfo | undefined;
  if (meta.vae_encoder && info.components.vae_encoder) {
    const ec = new GraphChecker(info.components.vae_encoder.model, meta.vae_encoder.inputs, meta.vae_encoder.outputs, 'vae_encoder');
    veIn = ec.input('sample', 'image [batch, 3, H, W] in [-1, 1]', [4], FLOATS);
    if (ec.optionalOutput('latent_parameters')) {
      veOut = ec.output('latent_parameters', 'mean‖logvar [batch, 8, h, w]', [4], FLOATS);
      ec.staticDim('latent_parameters', veOut, 1, [8], 'channels');
      vaeEncoderOutput = 'latent_parameters';
    } else {
      veOut = ec.output('latent_sample', 'sampled latents [batch, 4, h, w] (or latent_parameters [batch, 8, h, w])', [4], FLOATS);
      ec.staticDim('latent_sample', veOut, 1, [4], 'channels');
      vaeEncoderOutput = 'latent_sample';
    }
  }
  return { vaeEncoderOutput, veIn, veOut };
}

/** Single-encoder models: the text encoder's width must be the UNet's cross-attention width. */
function checkSingleEncoderHidden(info: ModelInfo, teHidden: number | null, unetCross: number | null, sdxlConditioning: boolean): void {
  if (!sdxlConditioning && !info.components.text_encoder_2 && teHidden !== null && unetCross !== null && teHidden !== unetCross) {
    throw new ModelLoadError({
      file: info.components.unet.model, code: 'mismatch',
      problem: `unet "encoder_hidden_states" takes hidden size ${unetCross} but text_encoder/model.onnx produces ${teHidden}`,
      expected: 'text_encoder and unet from the same model (768 for SD1.x, 1024 for SD2.x)',
    });
  }
}

/** LCM `timestep_cond`: its width from the graph, else unet/config.json `time_cond_proj_dim`. */
function detectTimeCond(info: ModelInfo, un: GraphIo) {
  const timeCond = un.inputs.find((i) => i.name === 'timestep_cond');
  const timeCondProjDim = dimOf(timeCond, 1) ?? numberOr((info.components.unet.config ?? {}).time_cond_proj_dim);
  if (timeCond && timeCondProjDim === null) {
    throw new ModelLoadError({
      file: info.components.unet.model, code: 'wrong-rank',
      problem: `unet "timestep_cond" has no static width (shape [${timeCond.shape.join(', ')}]) and unet/config.json has no time_cond_proj_dim`,
      expected: 'the LCM guidance-embedding width: a static timestep_cond [batch, 256] or time_cond_proj_dim in unet/config.json',
    });
  }
  return { timeCond, timeCondProjDim };
}

export function detectSignature(info: ModelInfo, meta: GraphMeta): ModelSignature {
  // 1. Each graph's inputs and outputs (order matters: the first mismatch found is the error).
  const { ids, lhs, hiddenStatesOutputs } = checkTextEncoder(info, meta.text_encoder!);
  const un = meta.unet!;
  const { uc, sample, timestep, ehs, out, inChannels } = checkUnet(info, un);
  const { vdIn, vdOut } = checkVaeDecoder(info, meta.vae_decoder!);
  const { vaeEncoderOutput, veIn, veOut } = checkVaeEncoder(info, meta);

  // 2. Hidden size: graph first, then config.json files; SDXL's second encoder and micro-conditioning.
  const teHidden = dimOf(lhs, 2) ?? numberOr(info.components.text_encoder.config?.hidden_size);
  const unetCross = dimOf(ehs, 2) ?? numberOr((info.components.unet.config ?? {}).cross_attention_dim);
  const sdxlConditioning = un.inputs.some((i) => i.name === 'text_embeds' || i.name === 'time_ids');
  const { textEncoder2, sdxl } = detectSdxl(info, meta, uc, teHidden, hiddenStatesOutputs, sdxlConditioning, dimOf(ehs, 2));
  checkSingleEncoderHidden(info, teHidden, unetCross, sdxlConditioning);

  // 3. Family from the graphs' features and the scheduler config.
  const { timeCond, timeCondProjDim } = detectTimeCond(info, un);
  const sched = info.schedulerConfig;
  const predictionType = (sched.prediction_type ?? 'epsilon') as ModelSignature['predictionType'];
  const { family, turbo } = classifyFamily({
    sdxl: sdxlConditioning || Boolean(info.components.text_encoder_2),
    lcm: Boolean(timeCond) || timeCondProjDim !== null || sched._class_name === 'LCMScheduler',
    predictionType,
    timestepSpacing: sched.timestep_spacing,
    sd2Text: teHidden === 1024 || info.padToken === '!',
  });

  // 4. Element types of the float tensors the graphs exchange.
  const io: ModelSignature['io'] = {
    textEncoderOutput: lhs.type as FloatType,
    unetSample: sample.type as FloatType,
    unetEncoderHiddenStates: ehs.type as FloatType,
    unetOutput: out.type as FloatType,
    vaeDecoderInput: vdIn.type as FloatType,
    vaeDecoderOutput: vdOut.type as FloatType,
    ...(veIn ? { vaeEncoderInput: veIn.type as FloatType, vaeEncoderOutput: veOut!.type as FloatType } : {}),
  };

  return {
    family,
    supported: true,
    turbo,
    predictionType,
    timestep: {
      type: timestep.type as ModelSignature['timestep']['type'],
      rank: timestep.shape.length as 0 | 1,
      length: timestep.shape.length === 1 ? dimOf(timestep, 0) ?? 1 : 1,
    },
    inputIdsType: ids.type as 'int32' | 'int64',
    sequenceLength: dimOf(ids, 1) ?? 77,
    io,
    fp16: Object.values(io).every((t) => t === 'float16'),
    unetInChannels: inChannels,
    hiddenSize: teHidden,
    vaeEncoderOutput,
    hiddenStatesOutputs,
    timeCondProjDim,
    sdxlConditioning,
    textEncoder2,
    sdxl,
    vaeForceUpcast: info.vaeForceUpcast,
  };
}

/**
 * SDXL: text_encoder_2 (pooled `text_embeds` + `hidden_states.N`), the UNet's `text_embeds` /
 * `time_ids` inputs, and the penultimate-layer outputs of both encoders that the conditioning
 * concatenates. Everything is read from the graphs; config files only fill in static gaps.
 */
function detectSdxl(
  info: ModelInfo,
  meta: GraphMeta,
  uc: GraphChecker,
  teHidden: number | null,
  teHiddenStates: number,
  sdxlConditioning: boolean,
  crossAttentionDim: number | null,
): { textEncoder2: TextEncoder2Signature | null; sdxl: SdxlSignature | null } {
  const te2Files = info.components.text_encoder_2;
  if (!sdxlConditioning && !te2Files) return { textEncoder2: null, sdxl: null };
  const unFile = info.components.unet.model;
  if (!te2Files || !meta.text_encoder_2) {
    throw new ModelLoadError({
      file: join(info.folder, 'text_encoder_2'), code: 'missing-file',
      problem: 'the UNet takes SDXL conditioning (text_embeds, time_ids) but there is no text_encoder_2',
      expected: 'text_encoder_2/model.onnx (CLIPTextModelWithProjection) and tokenizer_2/, as in SDXL diffusers-ONNX exports',
    });
  }
  if (!sdxlConditioning) {
    throw new ModelLoadError({
      file: unFile, code: 'wrong-io-names',
      problem: 'the model has a text_encoder_2 but the UNet takes no "text_embeds" / "time_ids" inputs',
      expected: 'an SDXL UNet export with inputs sample, timestep, encoder_hidden_states, text_embeds, time_ids',
    });
  }
  const te2Sig = checkTextEncoder2(info, te2Files, meta.text_encoder_2, teHiddenStates);
  const { unetPooled, timeIdsLength } = checkSdxlUnet(info, uc, teHidden, te2Sig.hiddenSize, te2Sig.pooledSize, crossAttentionDim);
  return {
    textEncoder2: te2Sig,
    sdxl: {
      timeIdsLength,
      pooledSize: unetPooled ?? te2Sig.pooledSize,
      crossAttentionDim,
      forceZerosForEmptyPrompt: info.forceZerosForEmptyPrompt,
    },
  };
}

/** text_encoder_2: `input_ids` in, pooled `text_embeds` and ≥ 2 `hidden_states.N` out (text_encoder needs them too). */
function checkTextEncoder2(info: ModelInfo, te2Files: NonNullable<ModelInfo['components']['text_encoder_2']>, te2: GraphIo, teHiddenStates: number): TextEncoder2Signature {
  const c2 = new GraphChecker(te2Files.model, te2.inputs, te2.outputs, 'text_encoder_2');
  const ids2 = c2.input('input_ids', 'token ids [batch, 77]', [2], ['int32', 'int64']);
  const pooledOut = c2.output('text_embeds', 'pooled, projected text embedding [batch, 1280]', [2], FLOATS);
  const hiddenStates2 = te2.outputs.filter((o) => /^hidden_states\.\d+$/.test(o.name));
  const noHiddenStates = (file: string, component: string) =>
    new ModelLoadError({
      file, code: 'wrong-io-names',
      problem: `${component} has no hidden_states.N outputs; SDXL conditions on the penultimate layer`,
      expected: `${component} exported with output_hidden_states (optimum and Olive SDXL exports have hidden_states.0…N)`,
    });
  if (hiddenStates2.length < 2) throw noHiddenStates(te2Files.model, 'text_encoder_2');
  if (teHiddenStates < 2) throw noHiddenStates(info.components.text_encoder.model, 'text_encoder');
  return {
    inputIdsType: ids2.type as 'int32' | 'int64',
    hiddenSize: dimOf(hiddenStates2[0], 2) ?? numberOr(te2Files.config?.hidden_size),
    pooledSize: dimOf(pooledOut, 1) ?? numberOr(te2Files.config?.projection_dim),
    hiddenStatesOutputs: hiddenStates2.length,
  };
}

/** The SDXL UNet inputs `text_embeds` / `time_ids`, checked against both text encoders' widths. */
function checkSdxlUnet(
  info: ModelInfo,
  uc: GraphChecker,
  teHidden: number | null,
  te2Hidden: number | null,
  pooledSize2: number | null,
  crossAttentionDim: number | null,
): { unetPooled: number | null; timeIdsLength: 5 | 6 } {
  const unFile = info.components.unet.model;
  const textEmbeds = uc.input('text_embeds', 'pooled prompt embedding [batch, 1280]', [2], FLOATS);
  const timeIds = uc.input('time_ids', 'micro-conditioning [batch, 6] (or [batch, 5] with an aesthetic score)', [2], FLOATS);
  const unetPooled = dimOf(textEmbeds, 1);
  if (unetPooled !== null && pooledSize2 !== null && unetPooled !== pooledSize2) {
    throw new ModelLoadError({
      file: unFile, code: 'mismatch',
      problem: `unet "text_embeds" takes ${unetPooled} values but text_encoder_2 "text_embeds" has ${pooledSize2}`,
      expected: 'text_encoder_2 and unet from the same SDXL model (1280 for SDXL)',
    });
  }
  if (crossAttentionDim !== null && teHidden !== null && te2Hidden !== null && crossAttentionDim !== teHidden + te2Hidden) {
    throw new ModelLoadError({
      file: unFile, code: 'mismatch',
      problem: `unet "encoder_hidden_states" takes hidden size ${crossAttentionDim} but text_encoder (${teHidden}) + text_encoder_2 (${te2Hidden}) give ${teHidden + te2Hidden}`,
      expected: 'both text encoders and the unet from the same SDXL model (768 + 1280 = 2048)',
    });
  }
  const graphColumns = dimOf(timeIds, 1);
  const timeIdsLength = graphColumns ?? (info.requiresAestheticsScore ? 5 : 6);
  if (timeIdsLength !== 5 && timeIdsLength !== 6) {
    throw new ModelLoadError({
      file: unFile, code: 'wrong-rank',
      problem: `unet "time_ids" has ${timeIdsLength} columns (shape [${timeIds.shape.join(', ')}])`,
      expected: '6 columns (original size, crop top-left, target size) or 5 (original size, crop, aesthetic score)',
    });
  }
  return { unetPooled, timeIdsLength };
}
