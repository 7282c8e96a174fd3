/**
 * Where each weight of an ONNX graph lives, byte for byte, and which node uses it.
 *
 * Exporters rename Linear weights (`onnx::MatMul_1234`) while node names keep the module path
 * (`/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul`), so a LoRA is matched
 * to nodes, and a node's weight input tells us which initializer to change. For every
 * initializer we record the byte range of its values: inside `model.onnx` (the `raw_data`
 * payload, which can be rewritten in place without re-encoding the protobuf) or in an
 * external-data file (`location`, `offset`, `length`). Weights are never read here.
 *
 * Walks the protobuf with the windowed reader of doctor/onnx-proto.ts (a 1.7 GB single-file UNet
 * costs a few MB of reads) rather than protobufjs, which would decode every raw_data into memory.
 */
import { fields, fileSource, str, parseTensorHeader, OnnxParseError, type ByteSource } from '../doctor/onnx-proto';

export interface GraphNode {
  name: string;
  opType: string;
  /** '' for the default ai.onnx domain. */
  domain: string;
  inputs: string[];
  /** Integer attributes we need (Gemm `transB`, Conv `group`). */
  ints: Record<string, number>;
}

export interface WeightLocation {
  name: string;
  dataType: number;
  dims: number[];
  /** null: values are inline in model.onnx; otherwise the external-data file, relative to the model's folder. */
  file: string | null;
  offset: number;
  length: number;
  /** false when the values are stored in typed fields (float_data…) that cannot be patched byte for byte. */
  patchable: boolean;
}

export interface GraphWeights {
  nodes: GraphNode[];
  weights: Map<string, WeightLocation>;
}

function parseAttributeInt(src: ByteSource, start: number, end: number): [string, number] | null {
  let name = '';
  let value: number | null = null;
  for (const f of fields(src, start, end)) {
    if (f.field === 1) name = str(src, f);
    else if (f.field === 3 && f.wire === 0) value = f.value;
  }
  return value === null ? null : [name, value];
}

function parseNode(src: ByteSource, start: number, end: number): GraphNode {
  const node: GraphNode = { name: '', opType: '', domain: '', inputs: [], ints: {} };
  for (const f of fields(src, start, end)) {
    if (f.field === 1) node.inputs.push(str(src, f));
    else if (f.field === 3) node.name = str(src, f);
    else if (f.field === 4) node.opType = str(src, f);
    else if (f.field === 7) node.domain = str(src, f);
    else if (f.field === 5) {
      const a = parseAttributeInt(src, f.start, f.end);
      if (a) node.ints[a[0]] = a[1];
    }
  }
  if (node.domain === 'ai.onnx') node.domain = '';
  return node;
}

/** Where an initializer's values live, and whether they can be patched in place. */
function parseInitializer(src: ByteSource, start: number, end: number): WeightLocation {
  const { name, dataType, dims, byteLength: bytes, external, raw, typedData } = parseTensorHeader(src, start, end);
  if (external) {
    const length = external.length ?? bytes;
    return { name, dataType, dims, file: external.location, offset: external.offset, length, patchable: Number.isSafeInteger(external.offset) && length === bytes };
  }
  if (raw) return { name, dataType, dims, file: null, offset: raw.start, length: raw.end - raw.start, patchable: raw.end - raw.start === bytes && !typedData };
  return { name, dataType, dims, file: null, offset: 0, length: 0, patchable: false };
}

/** Nodes and weight locations of the main graph (subgraphs of If/Loop are not LoRA targets). */
export function readGraphWeights(src: ByteSource): GraphWeights {
  let graph: { start: number; end: number } | null = null;
  for (const f of fields(src, 0, src.size)) if (f.field === 7) graph = f;
  if (!graph) throw new OnnxParseError('no graph in this file (not an ONNX model?)');
  const nodes: GraphNode[] = [];
  const weights = new Map<string, WeightLocation>();
  for (const f of fields(src, graph.start, graph.end)) {
    if (f.field === 1) nodes.push(parseNode(src, f.start, f.end));
    else if (f.field === 5) {
      const w = parseInitializer(src, f.start, f.end);
      weights.set(w.name, w);
    }
  }
  return { nodes, weights };
}

export function readGraphWeightsFile(modelPath: string): GraphWeights {
  const src = fileSource(modelPath);
  try {
    return readGraphWeights(src);
  } finally {
    src.close();
  }
}
