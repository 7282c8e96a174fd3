/**
 * Small ONNX models written from TypeScript (main/engine/doctor/onnx-encode.ts), for the model
 * doctor's tests: an fp16 graph with the CUDA recipe's fused ops, a WebGPU-safe fp16 graph, a
 * fixed-shape fp16 graph and one whose external data is missing. No Python needed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { model, ONNX_TYPE as T, type ModelSpec, type NodeSpec } from '../../main/engine/doctor/onnx-encode';
import { toFloat16Array } from '../../main/engine/float16';

const H = T.float16;
const MS = 'com.microsoft';
const fp16 = (name: string, dims: number[]) => ({ name, dataType: H, dims, raw: new Uint8Array(toFloat16Array(new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.5)).buffer) });
const unetIo = (dims: Array<number | string>) => ({
  inputs: [
    { name: 'sample', type: H, shape: dims },
    { name: 'timestep', type: H, shape: [dims[0]] },
    { name: 'encoder_hidden_states', type: H, shape: [dims[0], 77, 8] },
  ],
  outputs: [{ name: 'out_sample', type: H, shape: dims }],
});

/** fp16 UNet-shaped graph with ORT's CUDA SD recipe ops: NhwcConv, GroupNorm, BiasSplitGelu, BiasAdd, MultiHeadAttention. */
export function cudaOptimizedUnet(): ModelSpec {
  const nhwcConv = (x: string, w: string, b: string, y: string): NodeSpec => ({ op: 'NhwcConv', domain: MS, inputs: [x, w, b], outputs: [y], attrs: { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } } });
  const nodes: NodeSpec[] = [
    { op: 'Sin', inputs: ['timestep'], outputs: ['t_sin'] },
    { op: 'Cos', inputs: ['timestep'], outputs: ['t_cos'] },
    { op: 'Transpose', inputs: ['sample'], outputs: ['nhwc'], attrs: { perm: { ints: [0, 2, 3, 1] } } },
    nhwcConv('nhwc', 'w_in', 'b_in', 'h0'),
    ...[0, 1, 2].map((i): NodeSpec => ({ op: 'GroupNorm', domain: MS, inputs: [`h${i}`, 'gamma', 'beta'], outputs: [`h${i + 1}`], attrs: { activation: { i: 1 }, groups: { i: 4 }, epsilon: { f: 1e-5 }, channels_last: { i: 1 } } })),
    // transformer-block branch on [batch, tokens, channels]
    { op: 'Reshape', inputs: ['h3', 'to_tokens'], outputs: ['tokens'] },
    { op: 'BiasSplitGelu', domain: MS, inputs: ['tokens', 'bias8'], outputs: ['gelu'] },
    { op: 'BiasAdd', domain: MS, inputs: ['gelu', 'bias4', 'gelu'], outputs: ['aux'] },
    { op: 'MultiHeadAttention', domain: MS, inputs: ['encoder_hidden_states', 'encoder_hidden_states', 'encoder_hidden_states'], outputs: ['attn'], attrs: { num_heads: { i: 2 } } },
    nhwcConv('h3', 'w_out', 'b_out', 'o_nhwc'),
    { op: 'Transpose', inputs: ['o_nhwc'], outputs: ['out_sample'], attrs: { perm: { ints: [0, 3, 1, 2] } } },
  ];
  const io = unetIo(['batch', 4, 'height', 'width']);
  return {
    nodes,
    inputs: io.inputs,
    outputs: [...io.outputs, { name: 'aux', type: H, shape: ['batch', 'tokens', 4] }, { name: 'attn', type: H, shape: ['batch', 77, 8] }],
    initializers: [
      fp16('w_in', [8, 3, 3, 4]), fp16('b_in', [8]), fp16('gamma', [8]), fp16('beta', [8]), fp16('bias8', [8]), fp16('bias4', [4]), fp16('w_out', [4, 3, 3, 8]), fp16('b_out', [4]),
      { name: 'to_tokens', dataType: T.int64, dims: [3], raw: new Uint8Array(BigInt64Array.from([0n, -1n, 8n]).buffer) },
    ],
    opsets: { '': 17, [MS]: 1 },
    producer: 'atelier-test cuda-recipe',
  };
}

/** fp16 graph with only ops WebGPU has (no GroupNorm / NhwcConv): Conv, InstanceNormalization, MultiHeadAttention, SkipLayerNormalization. */
export function webgpuSafeUnet(): ModelSpec {
  const nodes: NodeSpec[] = [
    { op: 'Sin', inputs: ['timestep'], outputs: ['t_sin'] },
    { op: 'Conv', inputs: ['sample', 'w_in', 'b_in'], outputs: ['h0'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
    { op: 'InstanceNormalization', inputs: ['h0', 'gamma', 'beta'], outputs: ['h1'] },
    { op: 'MultiHeadAttention', domain: MS, inputs: ['encoder_hidden_states', 'encoder_hidden_states', 'encoder_hidden_states'], outputs: ['attn'], attrs: { num_heads: { i: 2 } } },
    { op: 'SkipLayerNormalization', domain: MS, inputs: ['attn', 'encoder_hidden_states', 'ln_g', 'ln_b'], outputs: ['ln'] },
    { op: 'Conv', inputs: ['h1', 'w_out', 'b_out'], outputs: ['out_sample'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
  ];
  return {
    nodes,
    ...unetIo(['batch', 4, 'height', 'width']),
    initializers: [fp16('w_in', [8, 4, 3, 3]), fp16('b_in', [8]), fp16('gamma', [8]), fp16('beta', [8]), fp16('ln_g', [8]), fp16('ln_b', [8]), fp16('w_out', [4, 8, 3, 3]), fp16('b_out', [4])],
    opsets: { '': 17, [MS]: 1 },
    producer: 'atelier-test webgpu-safe',
  };
}

/** fp16 VAE-decoder-shaped graph with fixed dims and only CoreML-supported ops. */
export function staticFp16Decoder(): ModelSpec {
  return {
    nodes: [
      { op: 'Conv', inputs: ['latent_sample', 'w', 'b'], outputs: ['c'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { op: 'Tanh', inputs: ['c'], outputs: ['sample'] },
    ],
    inputs: [{ name: 'latent_sample', type: H, shape: [1, 4, 8, 8] }],
    outputs: [{ name: 'sample', type: H, shape: [1, 3, 8, 8] }],
    initializers: [fp16('w', [3, 4, 3, 3]), fp16('b', [3])],
    producer: 'atelier-test static',
  };
}

/** fp32 graph whose weights live in an external file `weights.pb` (not written). */
export function externalDataUnet(bytes: number): ModelSpec {
  const n = bytes / 4;
  return {
    nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
    inputs: [{ name: 'x', type: T.float32, shape: ['batch', n] }],
    outputs: [{ name: 'y', type: T.float32, shape: ['batch', 1] }],
    initializers: [{ name: 'w', dataType: T.float32, dims: [n, 1], external: { location: 'weights.pb', offset: 0, length: bytes } }],
    producer: 'atelier-test external',
  };
}

/** Write `<dir>/<component>/model.onnx` files (plus model_index.json) and return the folder. */
export function writeModelFolder(dir: string, graphs: Record<string, ModelSpec>): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'OnnxStableDiffusionPipeline' }));
  for (const [component, spec] of Object.entries(graphs)) {
    mkdirSync(path.join(dir, component), { recursive: true });
    writeFileSync(path.join(dir, component, 'model.onnx'), model(spec));
  }
  return dir;
}
