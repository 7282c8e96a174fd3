/**
 * A bounds-checked reader of the `.safetensors` header (https://github.com/huggingface/safetensors):
 * `u64 LE header length · JSON header · tensor bytes`. Every number in the file is untrusted: the
 * header length is capped, each tensor's offsets must lie inside the data section, agree with its
 * dtype × shape, and not overlap another tensor. Pure (no Node, no DOM): the engine (LoRA merge)
 * and the model import (LoRA metadata) read files their own way and parse the header here.
 */

/** A header bigger than this is refused (real LoRA headers are 20–300 KB; A1111 caps at 100 MB). */
export const MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024;

export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = Object.freeze({
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, U16: 2, U32: 4, U64: 8, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
});

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offsets in the file (already shifted past the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** 8 + header JSON length: where tensor data starts. */
  dataStart: number;
  tensors: Map<string, SafetensorsEntry>;
  /** `__metadata__` (string → string), e.g. kohya's `ss_base_model_version`, `ss_network_dim`. */
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** The header length from the first 8 bytes, checked against the file size and the cap. */
export function safetensorsHeaderLength(first8: Uint8Array, fileSize: number): number {
  if (first8.length < 8 || fileSize < 8) throw new SafetensorsError('file is shorter than the 8-byte header length: not a .safetensors file');
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const len = hi * 2 ** 32 + lo;
  if (len < 2 || len > MAX_SAFETENSORS_HEADER) throw new SafetensorsError(`header length ${len} is not plausible (2 B … ${MAX_SAFETENSORS_HEADER} B): not a .safetensors file`);
  if (8 + len > fileSize) throw new SafetensorsError(`header of ${len} bytes runs past the end of the ${fileSize}-byte file (truncated download?)`);
  return len;
}

/** Parse the JSON header (`headerJson` = the bytes after the length) of a file of `fileSize` bytes. */
export function parseSafetensorsHeader(headerJson: Uint8Array, fileSize: number): SafetensorsHeader {
  const dataStart = 8 + headerJson.length;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerJson));
  } catch (err) {
    throw new SafetensorsError(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new SafetensorsError('header is not a JSON object');
  const tensors = new Map<string, SafetensorsEntry>();
  const metadata: Record<string, string> = {};
  const dataSize = fileSize - dataStart;
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (typeof v === 'string') metadata[k] = v;
      }
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!v || typeof v !== 'object') throw new SafetensorsError(`tensor "${name}": entry is not an object`);
    const dtype = String(v.dtype);
    const size = SAFETENSORS_DTYPE_BYTES[dtype];
    if (!size) throw new SafetensorsError(`tensor "${name}": unknown dtype ${dtype}`);
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw new SafetensorsError(`tensor "${name}": shape is not a list of whole numbers`);
    const off = v.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw new SafetensorsError(`tensor "${name}": data_offsets is not [begin, end]`);
    const [b, e] = off as number[];
    if (b > e || e > dataSize) throw new SafetensorsError(`tensor "${name}": bytes ${b}..${e} lie outside the ${dataSize}-byte data section (truncated file?)`);
    const shape = v.shape as number[];
    const expected = shape.reduce((a, d) => a * d, 1) * size;
    if (expected !== e - b) throw new SafetensorsError(`tensor "${name}": ${e - b} bytes do not hold ${dtype}[${shape.join(',')}] (${expected} bytes)`);
    tensors.set(name, { name, dtype, shape, begin: dataStart + b, end: dataStart + e });
  }
  // Overlapping tensors are how a crafted file would alias one tensor's bytes as another's.
  const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) throw new SafetensorsError(`tensors "${sorted[i - 1].name}" and "${sorted[i].name}" overlap`);
  }
  return { dataStart, tensors, metadata };
}

const bf16Scratch = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Scratch.buffer);

/** Decode one tensor's little-endian bytes to float32 (F32, F16, BF16, F64). */
export function safetensorsToFloat32(dtype: string, bytes: Uint8Array, decodeF16: (bits: Uint16Array) => Float32Array): Float32Array {
  // Copy into an aligned buffer: tensor offsets in a file need not be aligned to the element size.
  // (`new Uint8Array(view)` copies; a Node Buffer's slice() would not, and .buffer is its whole pool.)
  const aligned = new Uint8Array(bytes).buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned);
    case 'F16':
      return decodeF16(new Uint16Array(aligned));
    case 'BF16': {
      const src = new Uint16Array(aligned);
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        bf16Bits[0] = src[i] << 16;
        out[i] = bf16Scratch[0];
      }
      return out;
    }
    case 'F64':
      return Float32Array.from(new Float64Array(aligned));
    default:
      throw new SafetensorsError(`dtype ${dtype} cannot be read as weights (F32, F16, BF16 or F64 expected)`);
  }
}
