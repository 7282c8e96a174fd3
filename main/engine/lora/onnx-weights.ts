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
import { fields, fileSource, str, pushVarints, ONNX_DATA_TYPES, OnnxParseError, type ByteSource } from '../doctor/onnx-proto';

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

function parseInitializer(src: ByteSource, start: number, end: number): WeightLocation {
  let name = '';
  let dataType = 0;
  const dims: number[] = [];
  let raw: { start: number; end: number } | null = null;
  let typed = false;
  let external = false;
  const ext: Record<string, string> = {};
  for (const f of fields(src, start, end)) {
    switch (f.field) {
      case 1:
        pushVarints(src, f, dims);
        break;
      case 2:
        dataType = f.value;
        break;
      case 8:
        name = str(src, f);
        break;
      case 9:
        raw = { start: f.start, end: f.end };
        break;
      case 13: {
        let k = '';
        let v = '';
        for (const e of fields(src, f.start, f.end)) {
          if (e.field === 1) k = str(src, e);
          else if (e.field === 2) v = str(src, e);
        }
        ext[k] = v;
        break;
      }
      case 14:
        external = f.value === 1;
        break;
      case 4: case 5: case 6: case 7: case 10: case 11:
        typed = true; // float_data, int32_data, string_data, int64_data, double_data, uint64_data
        break;
      default:
        break;
    }
  }
  const bytes = Math.ceil(dims.reduce((a, d) => a * d, 1) * (ONNX_DATA_TYPES[dataType]?.bytes ?? 0));
  if (external) {
    const offset = Number(ext.offset ?? 0);
    const length = ext.length === undefined ? bytes : Number(ext.length);
    return { name, dataType, dims, file: ext.location ?? '', offset, length, patchable: Number.isSafeInteger(offset) && length === bytes };
  }
  if (raw) return { name, dataType, dims, file: null, offset: raw.start, length: raw.end - raw.start, patchable: raw.end - raw.start === bytes && !typed };
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
