/**
 * Per denoising step: run every active ControlNet on the step's UNet inputs and hand the UNet the sum
 * of their weighted residuals (diffusers StableDiffusionControlNetPipeline, step 8 of its loop):
 *  - the ControlNet sees the same scaled, CFG-doubled 4-channel latents, timestep and prompt
 *    embeddings as the UNet (SDXL: the same text_embeds / time_ids), and the control image
 *    duplicated for the CFG batch;
 *  - its weight goes in as `conditioning_scale` when the graph has that input (float64 [1] in
 *    OnnxStack exports: dtype and rank come from the graph), else multiplies the residuals here;
 *  - a unit outside its start/end window or at weight 0 does not run; when none runs, the UNet still
 *    needs its residual inputs, so it gets zeros (what diffusers' `cond_scale = 0` amounts to).
 * Residuals are bound to the UNet by position (graph-io.ts); their real dims are checked against
 * the UNet's static dims after a unit's first run, with a message naming both tensors.
 */
import { fromFloat16Array, toFloat16Array } from '../float16';
import type { EngineSession, EngineTensor, TensorInfo } from '../ort-backend';
import { floatTensor, toFloat32 } from '../pipeline/tensors';
import { checkPair, checkRuntimeDims, describeControlNet, residualDims, unetResidualSlots, type ControlNetGraph, type ResidualSlots } from './graph-io';
import { addScaled, controlActive, controlBatch, scaled } from './residuals';

export interface ControlUnitSpec {
  session: EngineSession;
  /** The control image as NCHW [1, 3, H, W] in 0..1, already at the output size. */
  image: Float32Array;
  weight: number;
  start: number;
  end: number;
}

interface PreparedUnit extends ControlUnitSpec {
  graph: ControlNetGraph;
  cond: EngineTensor;
  scale: EngineTensor | null;
  checked: boolean;
  ehs: { key: string; tensor: EngineTensor } | null;
}

export interface ControlStepInput {
  /** Loop index and loop length (start/end are fractions of it, as diffusers' `controlnet_keep`). */
  i: number;
  total: number;
  t: number;
  /** The scaled model input the UNet gets, before any inpainting channels: [unetBatch, 4, h, w]. */
  sample: Float32Array;
  /** Prompt embeddings for this step [unetBatch, seq, hidden] and their prompt-schedule key. */
  embeds: Float32Array;
  embedsKey: string;
  seqLen: number;
  hidden: number;
  /** The step's extra UNet feeds (SDXL text_embeds / time_ids are passed on to SDXL ControlNets). */
  extras: Record<string, EngineTensor>;
}

/** Timestep tensor for a graph, from its own metadata (a ControlNet may differ from its UNet). */
export function timestepFor(info: TensorInfo, t: number): EngineTensor {
  const dims = info.shape.length === 0 ? [] : [typeof info.shape[0] === 'number' && info.shape[0] > 0 ? info.shape[0] : 1];
  const n = dims.length ? dims[0] : 1;
  if (info.type === 'int64') return { type: 'int64', data: new BigInt64Array(n).fill(BigInt(Math.round(t))), dims };
  if (info.type === 'int32') return { type: 'int32', data: new Int32Array(n).fill(Math.round(t)), dims };
  const f = new Float32Array(n).fill(t);
  return info.type === 'float16' ? { type: 'float16', data: toFloat16Array(f), dims } : { type: 'float32', data: f, dims };
}

/** `conditioning_scale` in the dtype and rank the graph declares (float64 [1] for OnnxStack). */
export function scaleTensor(info: TensorInfo, weight: number): EngineTensor {
  const dims = info.shape.length === 0 ? [] : [1];
  switch (info.type) {
    case 'float64':
      return { type: 'float64', data: Float64Array.of(weight), dims };
    case 'float16':
      return { type: 'float16', data: toFloat16Array(Float32Array.of(weight)), dims };
    case 'float32':
      return { type: 'float32', data: Float32Array.of(weight), dims };
    default:
      throw new Error(`conditioning_scale has type ${info.type}; expected a float.`);
  }
}

function sameFloats(info: TensorInfo, t: EngineTensor): EngineTensor {
  // SDXL extras arrive in the UNet's dtype; the ControlNet may want the other float type.
  if (info.type === t.type) return t;
  const f = t.type === 'float16' ? fromFloat16Array(t.data as Uint16Array) : (t.data as Float32Array);
  return floatTensor(info, f, t.dims);
}

export class ControlNetStack {
  readonly slots: ResidualSlots;
  private readonly units: PreparedUnit[];
  private readonly unetBatch: number;
  /** Zero residuals for steps where no unit runs (a ControlNet UNet always needs its residual inputs). */
  private zeros: Record<string, EngineTensor> | null = null;
  /** Sessions the model's `sessionRunMs` does not count, and their run time when the stack was made. */
  private readonly timed: Array<{ session: EngineSession; at: number }>;

  /**
   * @param unet the ControlNet-capable UNet the residuals go to
   * @param ownUnet whether `unet` is the model's own session (already counted in its run time)
   * @param batch images per prompt; with `doCfg` the UNet batch is twice that and the control
   *   image conditions both halves (diffusers: `torch.cat([image] * 2)`)
   */
  constructor(
    readonly unet: EngineSession,
    units: readonly ControlUnitSpec[],
    batch: number,
    doCfg: boolean,
    private readonly h: number,
    private readonly w: number,
    ownUnet = false,
  ) {
    const slots = unetResidualSlots(unet);
    if (!slots) throw new Error(`${unet.modelPath} takes no ControlNet residuals.`);
    this.slots = slots;
    this.unetBatch = doCfg ? 2 * batch : batch;
    const pixelH = h * 8;
    const pixelW = w * 8;
    this.units = units.map((u) => {
      const graph = describeControlNet(u.session);
      checkPair(graph, slots, unet.modelPath);
      if (u.image.length !== 3 * pixelH * pixelW) throw new Error(`control image has ${u.image.length} values; expected 3·${pixelH}·${pixelW}.`);
      return {
        ...u,
        graph,
        cond: floatTensor(graph.inputs.cond, controlBatch(u.image, batch, doCfg), [this.unetBatch, 3, pixelH, pixelW]),
        scale: graph.inputs.scale ? scaleTensor(graph.inputs.scale, u.weight) : null,
        checked: false,
        ehs: null,
      };
    });
    const extra = [...new Set([...(ownUnet ? [] : [unet]), ...units.map((u) => u.session)])];
    this.timed = extra.map((session) => ({ session, at: session.runMs }));
  }

  /** Milliseconds spent inside session.run of the ControlNets (and a separate ControlNet UNet) since the stack was made. */
  runMs(): number {
    return this.timed.reduce((ms, t) => ms + t.session.runMs - t.at, 0);
  }

  /** How many units will run at loop index i (tests, progress). */
  activeAt(i: number, total: number): number {
    return this.units.filter((u) => u.weight !== 0 && controlActive(i, total, u.start, u.end)).length;
  }

  /** UNet feeds (residual input name → tensor) for one step. */
  async residualsAt(s: ControlStepInput): Promise<Record<string, EngineTensor>> {
    const active = this.units.filter((u) => u.weight !== 0 && controlActive(s.i, s.total, u.start, u.end));
    if (active.length === 0) return this.zeroFeeds();
    const B = this.unetBatch;
    const slots = [...this.slots.down, this.slots.mid];
    let sum: Float32Array[] | null = null;
    let dims: number[][] = [];
    for (const u of active) {
      const inp = u.graph.inputs;
      if (!u.ehs || u.ehs.key !== s.embedsKey) u.ehs = { key: s.embedsKey, tensor: floatTensor(inp.encoderHiddenStates, s.embeds, [B, s.seqLen, s.hidden]) };
      const feeds: Record<string, EngineTensor> = {
        sample: floatTensor(inp.sample, s.sample, [B, 4, this.h, this.w]),
        timestep: timestepFor(inp.timestep, s.t),
        encoder_hidden_states: u.ehs.tensor,
        controlnet_cond: u.cond,
      };
      if (u.scale) feeds.conditioning_scale = u.scale;
      if (inp.textEmbeds && inp.timeIds) {
        const te = s.extras.text_embeds;
        const ids = s.extras.time_ids;
        if (!te || !ids) throw new Error(`SDXL ControlNet ${u.graph.modelPath} needs text_embeds and time_ids, but the UNet takes none: it is not an SDXL model.`);
        feeds.text_embeds = sameFloats(inp.textEmbeds, te);
        feeds.time_ids = sameFloats(inp.timeIds, ids);
      }
      const out = await u.session.run(feeds);
      const outputs = [...u.graph.outputs.down, u.graph.outputs.mid];
      const tensors = outputs.map((o) => {
        const t = out[o.name];
        if (!t) throw new Error(`ControlNet ${u.graph.modelPath} returned no "${o.name}".`);
        return t;
      });
      if (!u.checked) {
        tensors.forEach((t, k) => checkRuntimeDims(t.dims, slots[k], `ControlNet ${u.graph.modelPath} output "${outputs[k].name}"`));
        u.checked = true;
      }
      // The graph applied the weight itself when it has a scale input.
      const weight = u.scale ? 1 : u.weight;
      const values = tensors.map((t) => toFloat32(t));
      if (!sum) {
        // One unit at weight 1 passes its outputs through untouched; otherwise copy before accumulating.
        sum = active.length === 1 && weight === 1 ? values : values.map((v) => scaled(v, weight));
        dims = tensors.map((t) => t.dims);
      } else {
        values.forEach((v, k) => {
          if (tensors[k].dims.join() !== dims[k].join()) throw new Error(`ControlNets disagree on residual ${k}: [${dims[k].join(', ')}] vs [${tensors[k].dims.join(', ')}].`);
          addScaled(sum![k], v, weight);
        });
      }
    }
    const feeds: Record<string, EngineTensor> = {};
    slots.forEach((slot, k) => (feeds[slot.name] = floatTensor(slot, sum![k], dims[k])));
    return feeds;
  }

  private zeroFeeds(): Record<string, EngineTensor> {
    if (!this.zeros) {
      const d = residualDims(this.slots, this.unetBatch, this.h, this.w);
      const all = [...d.down, d.mid];
      const zeros: Record<string, EngineTensor> = {};
      [...this.slots.down, this.slots.mid].forEach((slot, k) => (zeros[slot.name] = floatTensor(slot, new Float32Array(all[k].reduce((a, b) => a * b, 1)), all[k])));
      this.zeros = zeros;
    }
    return this.zeros;
  }
}
