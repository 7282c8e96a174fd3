/**
 * WebGPU residency: which session inputs stay on the GPU between runs, and when a parked copy is
 * still valid. Only the caching policy lives here — the upload itself (an Identity session whose
 * output stays a `gpu-buffer`) is handed in by ort-backend.ts, so this file needs neither
 * onnxruntime-node nor its types and its rules are unit-tested with fake GPU tensors.
 */
import { ONNX_TYPE } from './doctor/onnx-encode';
import type { EngineTensor, EngineTensorType } from './engine-session';

/** Element types that can be parked, with the ONNX type of the Identity graph that uploads them. */
export const UPLOAD_TYPES: Partial<Record<EngineTensorType, number>> = { float32: ONNX_TYPE.float32, float16: ONNX_TYPE.float16 };

/** What residency needs of a device tensor (ORT's `Tensor` satisfies it). */
export interface DeviceTensor {
  readonly location: string;
  dispose(): void;
}

function bytesOf(data: EngineTensor['data']): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * Keeps chosen inputs of a WebGPU session on the GPU: the first time a tensor is fed it runs
 * through an Identity session whose output stays a `gpu-buffer`, and that buffer is fed on every
 * later run while the bytes are unchanged (the denoise loop feeds the same prompt embeddings each
 * step). A handful of entries at most; any failure turns it off for the session, feeds go by CPU.
 */
export class GpuResidency<G extends DeviceTensor = DeviceTensor> {
  private readonly entries = new Map<EngineTensor, { snapshot: Uint8Array; gpu: G }>();
  private disabled = false;
  static readonly MAX_ENTRIES = 4;
  /** Uploads done so far (tests, gpu-check). */
  uploads = 0;

  constructor(
    private readonly names: ReadonlySet<string>,
    /** Copies a tensor to the GPU; the result must be a `gpu-buffer` tensor. */
    private readonly upload: (name: string, t: EngineTensor) => Promise<G>,
  ) {}

  get active(): boolean {
    return !this.disabled;
  }

  async feed(name: string, t: EngineTensor): Promise<G | null> {
    if (this.disabled || !this.names.has(name) || !UPLOAD_TYPES[t.type]) return null;
    const hit = this.entries.get(t);
    if (hit && sameBytes(hit.snapshot, bytesOf(t.data))) return hit.gpu;
    if (hit) this.drop(t);
    try {
      const gpu = await this.upload(name, t);
      this.uploads++;
      if (!gpu || gpu.location !== 'gpu-buffer') throw new Error(`upload returned a ${gpu?.location ?? 'missing'} tensor`);
      if (this.entries.size >= GpuResidency.MAX_ENTRIES) this.drop(this.entries.keys().next().value!);
      this.entries.set(t, { snapshot: bytesOf(t.data).slice(), gpu });
      return gpu;
    } catch {
      this.disabled = true;
      return null;
    }
  }

  private drop(t: EngineTensor): void {
    const e = this.entries.get(t);
    this.entries.delete(t);
    try {
      e?.gpu.dispose();
    } catch {
      /* already gone */
    }
  }

  clear(): void {
    for (const t of [...this.entries.keys()]) this.drop(t);
  }
}
