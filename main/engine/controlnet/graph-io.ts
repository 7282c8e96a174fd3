/**
 * How a ControlNet graph's outputs meet a ControlNet-capable UNet's inputs.
 *
 * Exporters disagree on names (OnnxStack, axodox/unpaint and onnx-web exports differ): OnnxStack/axodox write
 * `down_block_{i}_additional_residual` + `mid_block_additional_residual`; onnx-web names the UNet inputs
 * `down_block_{i}` and names only the first two ControlNet outputs, the rest keep torch's numbered value
 * names ("116", "117", …). What every export keeps is the ORDER of diffusers' return tuple
 * (down_block_res_samples…, mid_block_res_sample) and the SHAPES. So residuals are bound by position,
 * names are used only where they carry an index or say "mid", and static shapes are checked on both
 * sides before anything runs (and the real shapes after the first run).
 */
import type { EngineSession, TensorInfo } from '../ort-backend';
import { PipelineInputError } from '../pipeline/types';

/** UNet inputs that are not residuals (SD, SDXL, LCM). */
const UNET_CONDITIONING = new Set(['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids', 'timestep_cond']);
/** ControlNet inputs the engine knows how to feed. */
const CONTROLNET_INPUTS = new Set(['sample', 'timestep', 'encoder_hidden_states', 'controlnet_cond', 'conditioning_scale', 'text_embeds', 'time_ids']);
const REQUIRED_CONTROLNET_INPUTS = ['sample', 'timestep', 'encoder_hidden_states', 'controlnet_cond'];

/** SD 1.x/2.x: 12 down residuals; SDXL: 9 (its last down block has no downsampler). */
export const DOWN_RESIDUAL_COUNTS: readonly number[] = Object.freeze([12, 9]);

/** A ControlNet that does not fit the UNet (or is no ControlNet): an input problem, reported before the loop runs. */
// Keeps the name 'PipelineInputError': errors cross the engine-host boundary by name (→ invalid_request).
export class ControlNetBindingError extends PipelineInputError {}

export interface ResidualSlots {
  /** Down-block residuals in diffusers' order (index 0 = after conv_in). */
  down: readonly TensorInfo[];
  mid: TensorInfo;
}

export interface ControlNetGraph {
  modelPath: string;
  inputs: {
    sample: TensorInfo;
    timestep: TensorInfo;
    encoderHiddenStates: TensorInfo;
    cond: TensorInfo;
    /** Present when the graph scales its own residuals (float64 [1] in OnnxStack exports). */
    scale: TensorInfo | null;
    /** SDXL ControlNets. */
    textEmbeds: TensorInfo | null;
    timeIds: TensorInfo | null;
  };
  outputs: ResidualSlots;
}

/** `down_block_7_additional_residual` / `down_block_7` → 7; anything else → null. */
export function downIndex(name: string): number | null {
  const m = /^down_blocks?[._]?(\d+)(?:$|_additional_residual$|_res_sample$|_residual$)/.exec(name);
  return m ? Number(m[1]) : null;
}

export function isMidName(name: string): boolean {
  return /^mid_block/.test(name);
}

/** A UNet input that takes a ControlNet residual (onnx-web / OnnxStack names). */
export function isResidualInputName(name: string): boolean {
  return downIndex(name) !== null || isMidName(name);
}

/**
 * Order residual tensors: the mid one is the one named mid_block… (else the last, as diffusers returns
 * it last); down ones are sorted by the index in their names when EVERY one has an index, else kept
 * in graph order (partially named exports: the numbered ones carry no usable index).
 */
export function orderResiduals(list: readonly TensorInfo[], where: string): ResidualSlots {
  if (list.length === 0) throw new ControlNetBindingError(`${where} has no residual tensors.`);
  const named = list.filter((t) => isMidName(t.name));
  if (named.length > 1) throw new ControlNetBindingError(`${where} has ${named.length} mid-block residuals (${named.map((t) => t.name).join(', ')}); expected one.`);
  const mid = named[0] ?? list[list.length - 1];
  const rest = list.filter((t) => t !== mid);
  const idx = rest.map((t) => downIndex(t.name));
  let down = rest;
  if (idx.every((i) => i !== null)) {
    down = rest.map((t, k) => ({ t, i: idx[k]! })).sort((a, b) => a.i - b.i).map((x) => x.t);
    const want = down.map((_, k) => k).join(',');
    const got = down.map((t) => downIndex(t.name)).join(',');
    if (want !== got) throw new ControlNetBindingError(`${where}: down-block residual indices are ${got}, expected ${want}.`);
  }
  if (!DOWN_RESIDUAL_COUNTS.includes(down.length)) {
    throw new ControlNetBindingError(
      `${where} has ${down.length} down-block residuals + 1 mid; a ControlNet pair has 12 (SD 1.x/2.x) or 9 (SDXL) + 1.`,
    );
  }
  return { down, mid };
}

/** The residual inputs of a ControlNet-capable UNet; null for a plain UNet (no extra inputs). */
export function unetResidualSlots(unet: Pick<EngineSession, 'inputs' | 'modelPath'>): ResidualSlots | null {
  const extra = unet.inputs.filter((i) => !UNET_CONDITIONING.has(i.name));
  if (extra.length === 0) return null;
  return orderResiduals(extra, `UNet ${unet.modelPath}`);
}

function find(session: Pick<EngineSession, 'inputs'>, name: string): TensorInfo | null {
  return session.inputs.find((i) => i.name === name) ?? null;
}

/** Read a ControlNet graph's inputs and ordered residual outputs; errors name what is missing. */
export function describeControlNet(session: Pick<EngineSession, 'inputs' | 'outputs' | 'modelPath'>): ControlNetGraph {
  const where = `ControlNet ${session.modelPath}`;
  const missing = REQUIRED_CONTROLNET_INPUTS.filter((n) => !find(session, n));
  if (missing.length) {
    throw new ControlNetBindingError(
      `${where} lacks input(s) ${missing.join(', ')}; a ControlNet graph takes sample, timestep, encoder_hidden_states, ` +
        `controlnet_cond [+ conditioning_scale, text_embeds, time_ids] (inputs: ${session.inputs.map((i) => i.name).join(', ')}).`,
    );
  }
  const unknown = session.inputs.filter((i) => !CONTROLNET_INPUTS.has(i.name));
  if (unknown.length) throw new ControlNetBindingError(`${where} has input(s) the engine cannot feed: ${unknown.map((i) => i.name).join(', ')}.`);
  const textEmbeds = find(session, 'text_embeds');
  const timeIds = find(session, 'time_ids');
  if (Boolean(textEmbeds) !== Boolean(timeIds)) throw new ControlNetBindingError(`${where} takes only one of text_embeds / time_ids; SDXL ControlNets take both.`);
  return {
    modelPath: session.modelPath,
    inputs: {
      sample: find(session, 'sample')!,
      timestep: find(session, 'timestep')!,
      encoderHiddenStates: find(session, 'encoder_hidden_states')!,
      cond: find(session, 'controlnet_cond')!,
      scale: find(session, 'conditioning_scale'),
      textEmbeds,
      timeIds,
    },
    outputs: orderResiduals(session.outputs, where),
  };
}

function dimsCompatible(a: ReadonlyArray<number | string>, b: ReadonlyArray<number | string>): boolean {
  if (a.length !== b.length) return false;
  return a.every((d, k) => typeof d !== 'number' || typeof b[k] !== 'number' || d < 0 || (b[k] as number) < 0 || d === b[k]);
}

/**
 * Check a ControlNet against the UNet it feeds, before any run: same residual count, and every
 * static dim (channels, fixed spatial sizes) agreeing position by position. A ControlNet for SDXL on
 * an SD UNet (9 vs 12) or a 1280-channel slot fed 640 fails here with both sides named.
 */
export function checkPair(cn: ControlNetGraph, slots: ResidualSlots, unetPath: string): void {
  const a = cn.outputs;
  if (a.down.length !== slots.down.length) {
    throw new ControlNetBindingError(
      `ControlNet ${cn.modelPath} produces ${a.down.length} down-block residuals but the UNet ${unetPath} takes ${slots.down.length}: ` +
        `they are for different base models (12 = SD 1.x/2.x, 9 = SDXL).`,
    );
  }
  const pairs: Array<[TensorInfo, TensorInfo, string]> = [
    ...a.down.map((t, k): [TensorInfo, TensorInfo, string] => [t, slots.down[k], `down-block residual ${k}`]),
    [a.mid, slots.mid, 'mid-block residual'],
  ];
  for (const [out, inp, what] of pairs) {
    if (!dimsCompatible(out.shape, inp.shape)) {
      throw new ControlNetBindingError(
        `${what}: ControlNet output "${out.name}" [${out.shape.join(', ')}] does not fit UNet input "${inp.name}" [${inp.shape.join(', ')}] ` +
          `(${cn.modelPath} vs ${unetPath}); use a ControlNet made for this base model.`,
      );
    }
  }
}

/** Check a residual's real dims (after a run) against the UNet slot's static dims. */
export function checkRuntimeDims(dims: readonly number[], slot: TensorInfo, what: string): void {
  if (!dimsCompatible(dims, slot.shape)) {
    throw new ControlNetBindingError(`${what} came out [${dims.join(', ')}] but UNet input "${slot.name}" takes [${slot.shape.join(', ')}].`);
  }
}

/**
 * Dims of every residual for a batch at an h × w latent, from the UNet's slots: channels from the
 * static dims, spatial sizes halved (rounding up, as a stride-2 conv with padding 1) after every third
 * down residual — SD: ×1 ×1 ×1 ½ ½ ½ ¼ ¼ ¼ ⅛ ⅛ ⅛, mid ⅛; SDXL: ×1 ×3, ½ ×3, ¼ ×3, mid ¼. Used for the
 * zero residuals a ControlNet UNet needs when no ControlNet is active (outside start/end, weight 0).
 */
export function residualDims(slots: ResidualSlots, batch: number, h: number, w: number): { down: number[][]; mid: number[] } {
  const channels = (t: TensorInfo): number => {
    const c = t.shape[1];
    if (typeof c !== 'number' || c <= 0) throw new ControlNetBindingError(`UNet input "${t.name}" has no static channel count [${t.shape.join(', ')}]; cannot size its zero residual.`);
    return c;
  };
  const down: number[][] = [];
  let hh = h;
  let ww = w;
  slots.down.forEach((t, i) => {
    if (i > 0 && i % 3 === 0) {
      hh = Math.ceil(hh / 2);
      ww = Math.ceil(ww / 2);
    }
    down.push([batch, channels(t), hh, ww]);
  });
  return { down, mid: [batch, channels(slots.mid), hh, ww] };
}
