/**
 * Which operators each execution provider can run, as far as the model doctor needs to know:
 * the `com.microsoft` contrib ops that ORT's Stable Diffusion optimiser and Olive emit
 * (GroupNorm, NhwcConv, BiasSplitGelu, BiasAdd, MultiHeadAttention, …), and CoreML's short list
 * of standard ops. Standard (ai.onnx) ops are assumed to run on cuda, dml, webgpu and cpu; an op
 * that no table mentions is reported as unknown rather than guessed.
 *
 * Sources (kept next to each table; re-check them when onnxruntime-node is upgraded):
 *  - cpu: measured on onnxruntime-node 1.30.0's own CPU EP — a one-node graph per op, session
 *    creation either finds a kernel or fails with "Could not find an implementation for X"
 *    (test/engine/doctor.test.ts re-measures both CPU lists on every run). Standard ai.onnx ops
 *    are taken as CPU-supported (fp16 ones through ORT's inserted Casts).
 *  - cuda, dml: ORT docs/OperatorKernels.md, sections CUDAExecutionProvider and
 *    DmlExecutionProvider, domain com.microsoft (microsoft/onnxruntime main, commit 001d12d).
 *  - webgpu: onnxruntime/contrib_ops/webgpu/webgpu_contrib_kernels.cc (microsoft/onnxruntime main,
 *    commit 01671d9) — main branch, not the 1.30 tag.
 *  - coreml: onnxruntime/core/providers/coreml/builders/op_builder_factory.cc (main, commit
 *    a8239d1); some builders only work in MLProgram format, which Atelier always requests.
 *    CoreML takes no contrib ops at all.
 */
import type { ProviderName } from '../ort-backend';

export interface OpTable {
  provider: ProviderName;
  /** Contrib (com.microsoft) ops with a kernel on this provider. */
  contrib: ReadonlySet<string>;
  /** Standard ops with a kernel; null = all standard ops are assumed supported. */
  standard: ReadonlySet<string> | null;
  source: string;
}

const set = (...names: string[]): ReadonlySet<string> => Object.freeze(new Set(names));

/**
 * Measured on onnxruntime-node 1.30.0's CPU EP (one-node graphs; see test/engine/doctor.test.ts,
 * which re-measures both lists): contrib ops with a CPU kernel …
 */
export const CPU_CONTRIB = set(
  'Attention',
  'MultiHeadAttention',
  'SkipLayerNormalization',
  'SkipSimplifiedLayerNormalization',
  'BiasGelu',
  'FastGelu',
  'Gelu',
  'QuickGelu',
  'FusedConv',
  'FusedMatMul',
  'FusedGemm',
  'TransposeMatMul',
  'RotaryEmbedding',
  'MatMulNBits',
);

/** … and contrib ops it has no kernel for ("Could not find an implementation"). */
export const CPU_MISSING_CONTRIB = set('GroupNorm', 'SkipGroupNorm', 'NhwcConv', 'BiasSplitGelu', 'BiasAdd', 'BiasDropout', 'PackedAttention', 'PackedMultiHeadAttention');

export const OP_TABLES: Readonly<Record<ProviderName, OpTable>> = Object.freeze({
  cpu: {
    provider: 'cpu',
    contrib: CPU_CONTRIB,
    standard: null,
    source: 'measured on onnxruntime-node 1.30.0 (one-node graphs, session creation on the CPU EP)',
  },
  cuda: {
    provider: 'cuda',
    contrib: set(
      'Attention', 'BeamSearch', 'BiasAdd', 'BiasDropout', 'BiasGelu', 'BiasSoftmax', 'BiasSplitGelu', 'ComplexMul', 'ComplexMulConj',
      'ConvTransposeWithDynamicPads', 'DecoderAttention', 'DecoderMaskedMultiHeadAttention', 'DecoderMaskedSelfAttention', 'DequantizeLinear',
      'EmbedLayerNormalization', 'FastGelu', 'FusedConv', 'FusedMatMul', 'GatherBlockQuantized', 'Gelu', 'GreedySearch', 'GridSample', 'GroupNorm',
      'GroupQueryAttention', 'Inverse', 'Irfft', 'LongformerAttention', 'MatMulBnb4', 'MatMulNBits', 'MoE', 'MultiHeadAttention', 'NhwcConv',
      'PackedAttention', 'PackedMultiHeadAttention', 'QAttention', 'QuantizeLinear', 'QuickGelu', 'RelativePositionBias', 'RemovePadding',
      'RestorePadding', 'Rfft', 'RotaryEmbedding', 'Sampling', 'SkipGroupNorm', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization',
      'SparseAttention', 'TransposeMatMul', 'Trilu', 'UnfoldTensor',
    ),
    standard: null,
    source: 'ORT docs/OperatorKernels.md, CUDAExecutionProvider, com.microsoft (main 001d12d)',
  },
  dml: {
    provider: 'dml',
    contrib: set(
      'Attention', 'BiasAdd', 'BiasGelu', 'BiasSplitGelu', 'ConvTransposeWithDynamicPads', 'DequantizeLinear', 'DynamicQuantizeMatMul',
      'EmbedLayerNormalization', 'FastGelu', 'FusedMatMul', 'FusedMatMulActivation', 'Gelu', 'GroupNorm', 'GroupQueryAttention',
      'MatMulIntegerToFloat', 'MatMulNBits', 'MultiHeadAttention', 'NhwcConv', 'QAttention', 'QLinearAdd', 'QLinearAveragePool',
      'QLinearConcat', 'QLinearGlobalAveragePool', 'QLinearSigmoid', 'QuantizeLinear', 'QuickGelu', 'RotaryEmbedding',
      'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization',
    ),
    standard: null,
    source: 'ORT docs/OperatorKernels.md, DmlExecutionProvider, com.microsoft (main 001d12d)',
  },
  webgpu: {
    provider: 'webgpu',
    contrib: set(
      'Attention', 'BiasAdd', 'BiasGelu', 'BiasSplitGelu', 'FastGelu', 'FusedConv', 'GatherBlockQuantized', 'Gelu', 'GroupQueryAttention',
      'MatMulNBits', 'MultiHeadAttention', 'QuickGelu', 'RotaryEmbedding', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization', 'QMoE',
    ),
    standard: null,
    source: 'ORT onnxruntime/contrib_ops/webgpu/webgpu_contrib_kernels.cc (main 01671d9; no GroupNorm, no NhwcConv)',
  },
  coreml: {
    provider: 'coreml',
    contrib: set(),
    standard: set(
      'Sigmoid', 'Tanh', 'Relu', 'PRelu', 'LeakyRelu', 'Gelu', 'Erf', 'Reciprocal', 'Round', 'Sqrt', 'Add', 'Div', 'Mul', 'Max', 'Pow', 'Sub',
      'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'MaxPool', 'ReduceMean', 'ReduceMin', 'ReduceMax', 'ReduceProd', 'ReduceSum',
      'BatchNormalization', 'GroupNormalization', 'InstanceNormalization', 'LayerNormalization', 'ArgMax', 'Cast', 'Clip', 'Concat', 'Conv',
      'ConvTranspose', 'DepthToSpace', 'Flatten', 'Gather', 'Gemm', 'GridSample', 'LRN', 'MatMul', 'Pad', 'Reshape', 'Resize', 'Shape',
      'Slice', 'Split', 'Softmax', 'Squeeze', 'Transpose', 'Unsqueeze',
      // Folded into initializers by ORT's graph optimiser before partitioning:
      'Constant', 'Identity',
    ),
    source: 'ORT onnxruntime/core/providers/coreml/builders/op_builder_factory.cc (main a8239d1); no contrib ops',
  },
});

export type OpPlacement = 'provider' | 'cpu-fallback' | 'none' | 'unknown';

/**
 * Where an op runs when a session is created for `provider` with CPU as the fallback ORT always
 * keeps: on the provider, on the CPU (copies across the boundary), or nowhere (session creation
 * fails with "Could not find an implementation"); 'unknown' for a contrib or custom-domain op that
 * neither table settles.
 */
export function placeOp(provider: ProviderName, domain: string, op: string): OpPlacement {
  const table = OP_TABLES[provider];
  let onProvider: boolean;
  if (domain === '') onProvider = table.standard === null || table.standard.has(op);
  else if (domain === 'com.microsoft') onProvider = table.contrib.has(op);
  else onProvider = false;
  if (onProvider) return 'provider';
  if (domain === '' || (domain === 'com.microsoft' && CPU_CONTRIB.has(op))) return 'cpu-fallback';
  if (domain === 'com.microsoft' && CPU_MISSING_CONTRIB.has(op)) return 'none';
  return 'unknown';
}

/** Ops an optimised SD graph gets from ORT's CUDA recipe or Olive's DML recipe (for the "optimised for" note). */
export const FUSED_SD_OPS = set('GroupNorm', 'NhwcConv', 'BiasSplitGelu', 'BiasAdd', 'MultiHeadAttention', 'SkipGroupNorm', 'PackedAttention', 'PackedMultiHeadAttention');
