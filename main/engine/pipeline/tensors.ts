/** Session-boundary helpers (the only place that knows fp16 / int dtypes) and layout conversions. */
import { fromFloat16Array, toFloat16Array } from '../float16';
import type { LoadedModel } from '../loader';
import type { EngineSession, EngineTensor, TensorInfo } from '../ort-backend';

export function inputInfo(session: EngineSession, name: string): TensorInfo {
  const info = session.inputs.find((i) => i.name === name);
  if (!info) throw new Error(`${session.modelPath} has no input "${name}"`);
  return info;
}

export function floatTensor(info: TensorInfo, data: Float32Array, dims: number[]): EngineTensor {
  return info.type === 'float16' ? { type: 'float16', data: toFloat16Array(data), dims } : { type: 'float32', data, dims };
}

export function toFloat32(t: EngineTensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') return fromFloat16Array(t.data as Uint16Array);
  throw new Error(`expected a float tensor, got ${t.type}`);
}

export function timestepTensor(model: LoadedModel, t: number): EngineTensor {
  const { type, rank, length } = model.signature.timestep;
  const dims = rank === 0 ? [] : [length];
  const n = rank === 0 ? 1 : length;
  if (type === 'int64') return { type, data: new BigInt64Array(n).fill(BigInt(Math.round(t))), dims };
  const f = new Float32Array(n).fill(t);
  return type === 'float16' ? { type, data: toFloat16Array(f), dims } : { type: 'float32', data: f, dims };
}

/** Interleave per-sample [4ch latents | 1ch mask | 4ch masked latents] into a 9-channel NCHW batch. */
export function concatChannels(latents: Float32Array, mask: Float32Array, masked: Float32Array, batch: number, plane: number): Float32Array {
  const out = new Float32Array(batch * 9 * plane);
  for (let b = 0; b < batch; b++) {
    const o = b * 9 * plane;
    out.set(latents.subarray(b * 4 * plane, (b + 1) * 4 * plane), o);
    out.set(mask.subarray(b * plane, (b + 1) * plane), o + 4 * plane);
    out.set(masked.subarray(b * 4 * plane, (b + 1) * 4 * plane), o + 5 * plane);
  }
  return out;
}

/** NCHW float in [-1, 1] (one sample) → interleaved RGB bytes: clip(x/2 + 0.5, 0, 1)·255, rounded. */
export function toRgb(sample: Float32Array, width: number, height: number): Uint8Array {
  const plane = width * height;
  const rgb = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      const v = Math.min(1, Math.max(0, sample[c * plane + p] / 2 + 0.5));
      rgb[p * 3 + c] = Math.round(v * 255);
    }
  }
  return rgb;
}

/** Interleaved RGB bytes → NCHW float [1, 3, H, W] in [-1, 1] (diffusers `VaeImageProcessor.preprocess`: x/255·2 − 1). */
export function rgbToNchw(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = (rgb[p * 3 + c] / 255) * 2 - 1;
  }
  return out;
}
