/**
 * Live previews with TAESD (madebyollin/taesd, a 1.2 M-parameter distilled VAE decoder): decodes
 * the predicted x0 latents into a full-resolution preview at a fraction of the real VAE's cost.
 *
 * Facts this module depends on (docs: shared reference onnx-sd.md §6):
 * - TAESD takes the latent exactly as the UNet sees it: its "scale_factor" is 1, so unlike the
 *   VAE decoder there is no division by 0.18215 / 0.13025.
 * - Exports disagree on the output range. Raw TAESD weights give an image in ~[0, 1]; diffusers'
 *   AutoencoderTiny appends `x.mul(2).sub(1)` (→ [−1, 1]) so it is a drop-in VAE for diffusers and
 *   optimum pipelines. Nothing in the I/O metadata says which, so the graph's last nodes decide.
 * - taesd_* weights match SD1/SD2 latents, taesdxl_* SDXL latents; decoding the wrong family's
 *   latents gives garbage, so the caller picks the file (main/app/preview-image.ts).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createSession, type CreateSessionOptions, type EngineSession, type TensorInfo } from './ort-backend';
import { floatTensor, toFloat32 } from './pipeline/tensors';
import type { PreviewImage } from './preview';

/** 'unit': image in [0, 1] (raw TAESD); 'signed': image in [−1, 1] (diffusers AutoencoderTiny). */
export type TaesdOutputRange = 'unit' | 'signed';

export interface TaesdDecoder {
  readonly modelPath: string;
  readonly outputRange: TaesdOutputRange;
  readonly provider: string;
  /** Milliseconds the last decode spent inside session.run. */
  readonly lastRunMs: number;
  /** Decodes the first sample of an NCHW latent batch ([B, 4, h, w]) into an 8h×8w RGB preview. */
  decode(latents: Float32Array, shape: number[]): Promise<PreviewImage>;
  release(): Promise<void>;
}

/** The decoder graph inside an installed TAESD folder (catalog layout: `vae_decoder/model.onnx`), or the file itself. */
export function resolveTaesdModelFile(pathOrFolder: string): string {
  if (existsSync(pathOrFolder) && statSync(pathOrFolder).isFile()) return pathOrFolder;
  for (const candidate of [join(pathOrFolder, 'vae_decoder', 'model.onnx'), join(pathOrFolder, 'model.onnx')]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`No TAESD decoder in ${pathOrFolder}: expected vae_decoder/model.onnx (the layout of deinferno/taesd-onnx and julienkay/taesd).`);
}

export async function loadTaesdDecoder(pathOrFolder: string, opts: CreateSessionOptions = {}): Promise<TaesdDecoder> {
  const modelPath = resolveTaesdModelFile(pathOrFolder);
  const outputRange = detectTaesdOutputRange(readFileSync(modelPath));
  const session = await createSession(modelPath, opts);
  try {
    return new OrtTaesdDecoder(session, outputRange);
  } catch (err) {
    await session.release();
    throw err;
  }
}

class OrtTaesdDecoder implements TaesdDecoder {
  readonly modelPath: string;
  readonly provider: string;
  lastRunMs = 0;
  private readonly input: TensorInfo;
  private readonly outputName: string;

  constructor(
    private readonly session: EngineSession,
    readonly outputRange: TaesdOutputRange,
  ) {
    this.modelPath = session.modelPath;
    this.provider = session.provider;
    const input = session.inputs.find((i) => i.name === 'latent_sample') ?? (session.inputs.length === 1 ? session.inputs[0] : undefined);
    if (!input) throw new Error(`${session.modelPath}: not a TAESD decoder (inputs ${session.inputs.map((i) => i.name).join(', ')}; expected latent_sample).`);
    if (input.shape.length !== 4 || (typeof input.shape[1] === 'number' && input.shape[1] !== 4)) {
      throw new Error(`${session.modelPath}: TAESD input must be [B, 4, h, w], got [${input.shape.join(', ')}] (taesd3/taef1 use 16 channels and do not fit SD latents).`);
    }
    this.input = input;
    this.outputName = session.outputs.find((o) => o.name === 'sample')?.name ?? session.outputs[0].name;
  }

  async decode(latents: Float32Array, shape: number[]): Promise<PreviewImage> {
    const [, c, h, w] = shape;
    if (shape.length !== 4 || c !== 4) throw new Error(`TAESD decode: expected latents [B, 4, h, w], got [${shape.join(', ')}]`);
    const first = latents.subarray(0, 4 * h * w);
    const started = performance.now();
    const out = await this.session.run({ [this.input.name]: floatTensor(this.input, first, [1, 4, h, w]) });
    this.lastRunMs = performance.now() - started;
    const t = out[this.outputName];
    const [, oc, oh, ow] = t.dims;
    if (t.dims.length !== 4 || oc !== 3) throw new Error(`${this.modelPath}: TAESD output must be [1, 3, H, W], got [${t.dims.join(', ')}]`);
    return { width: ow, height: oh, rgb: taesdToRgb(toFloat32(t), ow, oh, this.outputRange) };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** NCHW TAESD output (one sample) → interleaved RGB bytes, clamped to the output range. */
export function taesdToRgb(sample: Float32Array, width: number, height: number, range: TaesdOutputRange): Uint8Array {
  const plane = width * height;
  const rgb = new Uint8Array(plane * 3);
  const [scale, offset] = range === 'signed' ? [0.5, 0.5] : [1, 0];
  for (let ch = 0; ch < 3; ch++) {
    for (let p = 0; p < plane; p++) {
      const v = sample[ch * plane + p] * scale + offset;
      rgb[p * 3 + ch] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  return rgb;
}

// ---------------------------------------------------------------- graph-tail inspection

interface GraphNode {
  op: string;
  inputs: string[];
  outputs: string[];
}

/**
 * 'signed' when the graph output is produced by Sub/Add fed by a Mul (x·2 − 1: AutoencoderTiny's
 * `mul(2).sub(1)`), else 'unit' (raw TAESD ends in a Conv). Reads only the protobuf structure.
 */
export function detectTaesdOutputRange(modelBytes: Uint8Array): TaesdOutputRange {
  const { nodes, outputs } = readGraph(modelBytes);
  const producer = new Map<string, GraphNode>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const outName = outputs.includes('sample') ? 'sample' : outputs[0];
  let last = outName ? producer.get(outName) : undefined;
  // Exporters sometimes leave pass-through nodes at the tail.
  while (last && (last.op === 'Identity' || last.op === 'Cast')) last = producer.get(last.inputs[0]);
  if (!last || (last.op !== 'Sub' && last.op !== 'Add')) return 'unit';
  return last.inputs.some((i) => producer.get(i)?.op === 'Mul') ? 'signed' : 'unit';
}

/** Minimal protobuf walk: ModelProto.graph (7) → GraphProto.node (1) / .output (12). */
function readGraph(buf: Uint8Array): { nodes: GraphNode[]; outputs: string[] } {
  const graph = fields(buf, 0, buf.length).find((f) => f.field === 7 && f.wire === 2);
  if (!graph) throw new Error('not an ONNX model (no graph)');
  const nodes: GraphNode[] = [];
  const outputs: string[] = [];
  const text = (s: number, e: number) => Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('utf8');
  for (const f of fields(buf, graph.start, graph.end)) {
    if (f.wire !== 2) continue;
    if (f.field === 1) {
      const node: GraphNode = { op: '', inputs: [], outputs: [] };
      for (const nf of fields(buf, f.start, f.end)) {
        if (nf.wire !== 2) continue;
        if (nf.field === 1) node.inputs.push(text(nf.start, nf.end));
        else if (nf.field === 2) node.outputs.push(text(nf.start, nf.end));
        else if (nf.field === 4) node.op = text(nf.start, nf.end);
      }
      nodes.push(node);
    } else if (f.field === 12) {
      const name = fields(buf, f.start, f.end).find((vf) => vf.field === 1 && vf.wire === 2);
      if (name) outputs.push(text(name.start, name.end));
    }
  }
  return { nodes, outputs };
}

interface Field {
  field: number;
  wire: number;
  /** Payload bounds for length-delimited fields. */
  start: number;
  end: number;
}

function fields(buf: Uint8Array, start: number, end: number): Field[] {
  const out: Field[] = [];
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (pos >= end) throw new Error('truncated ONNX protobuf');
      const b = buf[pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  };
  while (pos < end) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      varint();
      out.push({ field, wire, start: pos, end: pos });
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 2) {
      const len = varint();
      out.push({ field, wire, start: pos, end: pos + len });
      pos += len;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
  return out;
}
