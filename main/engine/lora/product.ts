/**
 * The low-rank product up·down (or its transpose) on ONNX Runtime's GEMM. Merging a rank-32 LoRA
 * into SD 1.5's 128 attention projections is ~6 GFLOP: about 12 s in a JavaScript loop on a
 * shared 2-core machine, under a second on ORT's multithreaded MatMul. One tiny in-memory graph
 * `Y = A·B` (float32, any sizes) serves every weight; `addLowRank` stays as the fallback.
 */
import { model, ONNX_TYPE } from '../doctor/onnx-encode';
import { createCpuSessionFromBytes, type EngineSession } from '../ort-backend';

export interface LowRankProduct {
  /** Y[m, n] = A[m, r] · B[r, n]. */
  multiply(a: Float32Array, m: number, r: number, b: Float32Array, n: number): Promise<Float32Array>;
  release(): Promise<void>;
}

const GRAPH = model({
  nodes: [{ op: 'MatMul', name: 'lora_product', inputs: ['a', 'b'], outputs: ['y'] }],
  inputs: [
    { name: 'a', type: ONNX_TYPE.float32, shape: ['m', 'r'] },
    { name: 'b', type: ONNX_TYPE.float32, shape: ['r', 'n'] },
  ],
  outputs: [{ name: 'y', type: ONNX_TYPE.float32, shape: ['m', 'n'] }],
  producer: 'atelier-lora',
});

/** An ORT-backed product, or null when the runtime cannot create one (then the merge uses JavaScript). */
export async function createLowRankProduct(threads?: number): Promise<LowRankProduct | null> {
  let session: EngineSession;
  try {
    session = await createCpuSessionFromBytes('lora-product', GRAPH, threads);
  } catch {
    return null;
  }
  return {
    async multiply(a, m, r, b, n) {
      const out = await session.run({ a: { type: 'float32', data: a, dims: [m, r] }, b: { type: 'float32', data: b, dims: [r, n] } });
      return out.y.data as Float32Array;
    },
    release: () => session.release(),
  };
}

/** Row-major transpose of a [rows, cols] matrix. */
export function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = src[i * cols + j];
  return out;
}
