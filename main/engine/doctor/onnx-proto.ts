/**
 * A read-only ONNX (protobuf) reader that never loads weights.
 *
 * It walks `ModelProto → GraphProto` by byte ranges over a file (or a buffer), decoding only the
 * small messages it needs — nodes, value infos, the header fields of initializers — and stepping
 * over `raw_data` without reading it, so a 1.7 GB single-file UNet costs a few MB of reads.
 *
 * Field numbers are those of onnx/onnx.proto (IR version 10):
 *   ModelProto   1 ir_version · 2 producer_name · 3 producer_version · 7 graph · 8 opset_import
 *   GraphProto   1 node · 2 name · 5 initializer · 11 input · 12 output · 15 sparse_initializer
 *   NodeProto    1 input · 2 output · 3 name · 4 op_type · 5 attribute · 7 domain
 *   AttributeProto 1 name · 5 t (tensor) · 6 g (graph) · 10 tensors · 11 graphs · 20 type
 *   TensorProto  1 dims · 2 data_type · 8 name · 9 raw_data · 13 external_data · 14 data_location
 *   ValueInfoProto 1 name · 2 type;  TypeProto 1 tensor_type (1 elem_type · 2 shape);
 *   TensorShapeProto 1 dim (1 dim_value · 2 dim_param);  OperatorSetIdProto 1 domain · 2 version
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** onnx TensorProto.DataType → name and element size in bytes (0: not fixed-size). */
export const ONNX_DATA_TYPES: Readonly<Record<number, { name: string; bytes: number }>> = Object.freeze({
  1: { name: 'float32', bytes: 4 },
  2: { name: 'uint8', bytes: 1 },
  3: { name: 'int8', bytes: 1 },
  4: { name: 'uint16', bytes: 2 },
  5: { name: 'int16', bytes: 2 },
  6: { name: 'int32', bytes: 4 },
  7: { name: 'int64', bytes: 8 },
  8: { name: 'string', bytes: 0 },
  9: { name: 'bool', bytes: 1 },
  10: { name: 'float16', bytes: 2 },
  11: { name: 'float64', bytes: 8 },
  12: { name: 'uint32', bytes: 4 },
  13: { name: 'uint64', bytes: 8 },
  14: { name: 'complex64', bytes: 8 },
  15: { name: 'complex128', bytes: 16 },
  16: { name: 'bfloat16', bytes: 2 },
  17: { name: 'float8e4m3fn', bytes: 1 },
  18: { name: 'float8e4m3fnuz', bytes: 1 },
  19: { name: 'float8e5m2', bytes: 1 },
  20: { name: 'float8e5m2fnuz', bytes: 1 },
  21: { name: 'uint4', bytes: 0.5 },
  22: { name: 'int4', bytes: 0.5 },
});

export function dataTypeName(t: number | null): string {
  if (t === null) return 'unknown';
  return ONNX_DATA_TYPES[t]?.name ?? `type${t}`;
}

export class OnnxParseError extends Error {
  override name = 'OnnxParseError';
}

// ---------------------------------------------------------------------------------- byte sources

export interface ByteSource {
  readonly size: number;
  /** Exactly `len` bytes at `pos` (throws past the end). */
  read(pos: number, len: number): Uint8Array;
  close(): void;
}

export function bufferSource(buf: Uint8Array): ByteSource {
  return {
    size: buf.length,
    read(pos, len) {
      if (pos < 0 || pos + len > buf.length) throw new OnnxParseError(`truncated: wanted bytes ${pos}..${pos + len} of ${buf.length}`);
      return buf.subarray(pos, pos + len);
    },
    close() {},
  };
}

/** Reads through a 1 MiB window; large requests are read directly. */
export function fileSource(file: string, windowBytes = 1 << 20): ByteSource {
  const fd = openSync(file, 'r');
  const size = fstatSync(fd).size;
  let winStart = 0;
  let win: Uint8Array = new Uint8Array(0);
  const fill = (pos: number, len: number): Uint8Array => {
    const out = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, out, got, len - got, pos + got);
      if (n <= 0) break;
      got += n;
    }
    if (got < len) throw new OnnxParseError(`truncated: wanted bytes ${pos}..${pos + len} of ${size}`);
    return out;
  };
  return {
    size,
    read(pos, len) {
      if (pos < 0 || pos + len > size) throw new OnnxParseError(`truncated: wanted bytes ${pos}..${pos + len} of ${size}`);
      if (len > windowBytes) return fill(pos, len);
      if (pos < winStart || pos + len > winStart + win.length) {
        winStart = pos;
        win = fill(pos, Math.min(windowBytes, size - pos));
      }
      return win.subarray(pos - winStart, pos - winStart + len);
    },
    close() {
      closeSync(fd);
    },
  };
}

// ---------------------------------------------------------------------------------- wire format

export interface Field {
  field: number;
  wire: number;
  /** varint / fixed value (wire 0, 1, 5). */
  value: number;
  /** Byte range of a length-delimited payload (wire 2). */
  start: number;
  end: number;
}

const TWO_32 = 2 ** 32;

class Cursor {
  constructor(
    private readonly src: ByteSource,
    public pos: number,
  ) {}

  byte(): number {
    return this.src.read(this.pos++, 1)[0];
  }

  /** Unsigned varint as a Number (exact below 2^53); 10-byte encodings of negatives come back negative. */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result >= 2 ** 63 ? result - 2 ** 64 : result;
      mul *= 128;
    }
    throw new OnnxParseError(`malformed varint at byte ${this.pos}`);
  }
}

/** Iterate the fields of the message in [start, end) (also used by lora/onnx-weights.ts). */
export function* fields(src: ByteSource, start: number, end: number): Generator<Field> {
  const c = new Cursor(src, start);
  while (c.pos < end) {
    const key = c.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 0) throw new OnnxParseError(`field number 0 at byte ${c.pos}`);
    switch (wire) {
      case 0:
        yield { field, wire, value: c.varint(), start: 0, end: 0 };
        break;
      case 1: {
        const b = src.read(c.pos, 8);
        c.pos += 8;
        const lo = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
        const hi = (b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24)) >>> 0;
        yield { field, wire, value: hi * TWO_32 + lo, start: 0, end: 0 };
        break;
      }
      case 2: {
        const len = c.varint();
        const s = c.pos;
        if (len < 0 || s + len > end) throw new OnnxParseError(`length ${len} at byte ${s} runs past its message (ends at ${end})`);
        c.pos = s + len;
        yield { field, wire, value: len, start: s, end: s + len };
        break;
      }
      case 5: {
        const b = src.read(c.pos, 4);
        c.pos += 4;
        yield { field, wire, value: (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0, start: 0, end: 0 };
        break;
      }
      default:
        throw new OnnxParseError(`unsupported wire type ${wire} (field ${field}) at byte ${c.pos}`);
    }
  }
}

const utf8 = new TextDecoder();
export function str(src: ByteSource, f: Field): string {
  return utf8.decode(src.read(f.start, f.end - f.start));
}

/** Packed (wire 2) or unpacked (wire 0) repeated varints. */
export function pushVarints(src: ByteSource, f: Field, out: number[]): void {
  if (f.wire === 0) {
    out.push(f.value);
    return;
  }
  const c = new Cursor(src, f.start);
  while (c.pos < f.end) out.push(c.varint());
}

// ---------------------------------------------------------------------------------- model types

export interface OnnxExternalData {
  location: string;
  offset: number;
  /** null when the entry gives no length (then it runs to the end of the file per the spec). */
  length: number | null;
}

export interface OnnxTensorHeader {
  name: string;
  dataType: number;
  dims: number[];
  /** Bytes the values take (elements × element size); for external data, that stored on disk. */
  byteLength: number;
  external: OnnxExternalData | null;
  /** Where inline values sit in the file (raw_data), for a reader that patches them in place (LoRA). */
  raw: { start: number; end: number } | null;
  /** Values stored in typed fields (float_data…), which cannot be patched byte for byte. */
  typedData: boolean;
}

export interface OnnxValueInfo {
  name: string;
  /** TensorProto.DataType of a tensor value; null for non-tensors (sequences, maps…). */
  elemType: number | null;
  /** Dims: number (dim_value), string (dim_param), null (unknown); null when the shape is absent. */
  shape: Array<number | string | null> | null;
}

export interface OnnxModelSummary {
  irVersion: number;
  producer: string;
  opsets: Array<{ domain: string; version: number }>;
  /** Graph inputs that are not initializers (what a caller feeds). */
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Weights: graph initializers (also in subgraphs) and Constant-node tensors. */
  initializers: OnnxTensorHeader[];
  /** Op counts keyed `domain::op_type` (domain '' for the default ai.onnx domain), subgraphs included. */
  ops: Map<string, number>;
  nodeCount: number;
}

function elementCount(dims: number[]): number {
  return dims.reduce((a, b) => a * Math.max(0, b), 1);
}

export function parseTensorHeader(src: ByteSource, start: number, end: number): OnnxTensorHeader {
  let name = '';
  let dataType = 0;
  const dims: number[] = [];
  const externalEntries: Array<[string, string]> = [];
  let dataLocation = 0;
  let raw: { start: number; end: number } | null = null;
  let typedData = false;
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
      case 13: {
        let k = '';
        let v = '';
        for (const e of fields(src, f.start, f.end)) {
          if (e.field === 1) k = str(src, e);
          else if (e.field === 2) v = str(src, e);
        }
        externalEntries.push([k, v]);
        break;
      }
      case 14:
        dataLocation = f.value;
        break;
      case 9:
        raw = { start: f.start, end: f.end }; // located, never read here
        break;
      case 4: case 5: case 6: case 7: case 10: case 11:
        typedData = true; // float_data, int32_data, string_data, int64_data, double_data, uint64_data
        break;
      default:
        break;
    }
  }
  const size = ONNX_DATA_TYPES[dataType]?.bytes ?? 0;
  const byteLength = Math.ceil(elementCount(dims) * size);
  let external: OnnxExternalData | null = null;
  if (dataLocation === 1) {
    const get = (k: string) => externalEntries.find(([key]) => key === k)?.[1];
    const location = get('location') ?? '';
    const length = get('length');
    external = { location, offset: Number(get('offset') ?? 0), length: length === undefined ? null : Number(length) };
  }
  return { name, dataType, dims, byteLength, external, raw, typedData };
}

function parseValueInfo(src: ByteSource, start: number, end: number): OnnxValueInfo {
  let name = '';
  let elemType: number | null = null;
  let shape: OnnxValueInfo['shape'] = null;
  for (const f of fields(src, start, end)) {
    if (f.field === 1) name = str(src, f);
    else if (f.field === 2) {
      for (const t of fields(src, f.start, f.end)) {
        if (t.field !== 1) continue; // tensor_type only
        for (const tt of fields(src, t.start, t.end)) {
          if (tt.field === 1) elemType = tt.value;
          else if (tt.field === 2) {
            shape = [];
            for (const d of fields(src, tt.start, tt.end)) {
              if (d.field !== 1) continue;
              let dim: number | string | null = null;
              for (const dv of fields(src, d.start, d.end)) {
                if (dv.field === 1) dim = dv.value;
                else if (dv.field === 2) dim = str(src, dv);
              }
              shape.push(dim);
            }
          }
        }
      }
    }
  }
  return { name, elemType, shape };
}

interface GraphAcc {
  initializers: OnnxTensorHeader[];
  ops: Map<string, number>;
  nodeCount: number;
}

function parseNode(src: ByteSource, start: number, end: number, acc: GraphAcc): void {
  let op = '';
  let domain = '';
  const attrs: Field[] = [];
  for (const f of fields(src, start, end)) {
    if (f.field === 4) op = str(src, f);
    else if (f.field === 7) domain = str(src, f);
    else if (f.field === 5) attrs.push(f);
  }
  if (domain === 'ai.onnx') domain = '';
  const key = `${domain}::${op}`;
  acc.ops.set(key, (acc.ops.get(key) ?? 0) + 1);
  acc.nodeCount++;
  for (const a of attrs) {
    for (const f of fields(src, a.start, a.end)) {
      // Constant-node values and other tensor attributes are weights too; subgraphs (If/Loop/Scan) hold more nodes.
      if ((f.field === 5 || f.field === 10) && domain === '' && op === 'Constant') acc.initializers.push(parseTensorHeader(src, f.start, f.end));
      else if (f.field === 6 || f.field === 11) parseGraph(src, f.start, f.end, acc);
    }
  }
}

function parseGraph(src: ByteSource, start: number, end: number, acc: GraphAcc): { inputs: OnnxValueInfo[]; outputs: OnnxValueInfo[]; initNames: Set<string> } {
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];
  const initNames = new Set<string>();
  for (const f of fields(src, start, end)) {
    switch (f.field) {
      case 1:
        parseNode(src, f.start, f.end, acc);
        break;
      case 5: {
        const t = parseTensorHeader(src, f.start, f.end);
        initNames.add(t.name);
        acc.initializers.push(t);
        break;
      }
      case 11:
        inputs.push(parseValueInfo(src, f.start, f.end));
        break;
      case 12:
        outputs.push(parseValueInfo(src, f.start, f.end));
        break;
      case 15: {
        // SparseTensorProto: 1 values (TensorProto) · 2 indices · 3 dims. Count the values' bytes.
        for (const s of fields(src, f.start, f.end)) {
          if (s.field === 1) {
            const t = parseTensorHeader(src, s.start, s.end);
            initNames.add(t.name);
            acc.initializers.push(t);
          }
        }
        break;
      }
      default:
        break;
    }
  }
  return { inputs, outputs, initNames };
}

/** Summarise an ONNX model from any byte source. */
export function readOnnxSummary(src: ByteSource): OnnxModelSummary {
  let irVersion = 0;
  let producer = '';
  const opsets: OnnxModelSummary['opsets'] = [];
  let graph: Field | null = null;
  for (const f of fields(src, 0, src.size)) {
    if (f.field === 1) irVersion = f.value;
    else if (f.field === 2) producer = str(src, f);
    else if (f.field === 3 && producer) producer += ` ${str(src, f)}`;
    else if (f.field === 7) graph = f;
    else if (f.field === 8) {
      let domain = '';
      let version = 0;
      for (const o of fields(src, f.start, f.end)) {
        if (o.field === 1) domain = str(src, o);
        else if (o.field === 2) version = o.value;
      }
      opsets.push({ domain: domain === 'ai.onnx' ? '' : domain, version });
    }
  }
  if (!graph) throw new OnnxParseError('no graph in this file (not an ONNX model?)');
  const acc: GraphAcc = { initializers: [], ops: new Map(), nodeCount: 0 };
  const g = parseGraph(src, graph.start, graph.end, acc);
  return {
    irVersion,
    producer,
    opsets,
    inputs: g.inputs.filter((i) => !g.initNames.has(i.name)),
    outputs: g.outputs,
    initializers: acc.initializers,
    ops: acc.ops,
    nodeCount: acc.nodeCount,
  };
}

/** Summarise an ONNX file by path, reading only headers. */
export function readOnnxFile(file: string): OnnxModelSummary {
  const src = fileSource(file);
  try {
    return readOnnxSummary(src);
  } finally {
    src.close();
  }
}

/** True when every dimension of every graph input is a fixed number. */
export function hasStaticInputs(summary: Pick<OnnxModelSummary, 'inputs'>): boolean {
  return summary.inputs.length > 0 && summary.inputs.every((i) => i.shape !== null && i.shape.every((d) => typeof d === 'number' && d > 0));
}
