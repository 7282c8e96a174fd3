/**
 * A minimal ONNX (protobuf) writer: enough to build small graphs in memory — the Identity graph
 * ort-backend uses to park a tensor on the GPU (WebGPU), and test models — without Python.
 * Field numbers: see onnx-proto.ts.
 */

export const ONNX_TYPE = Object.freeze({ float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 });

type Bytes = Uint8Array;

function varint(n: number | bigint): number[] {
  let v = typeof n === 'bigint' ? BigInt.asUintN(64, n) : BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return out;
}

function concat(parts: Array<Bytes | number[]>): Bytes {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const enc = new TextEncoder();

/** field with wire type 0 */
export function fVarint(field: number, value: number | bigint): Bytes {
  return concat([varint(field * 8), varint(value)]);
}

/** field with wire type 2 */
export function fBytes(field: number, payload: Bytes | string): Bytes {
  const p = typeof payload === 'string' ? enc.encode(payload) : payload;
  return concat([varint(field * 8 + 2), varint(p.length), p]);
}

/** field with wire type 5 (float) */
export function fFloat(field: number, value: number): Bytes {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, value, true);
  return concat([varint(field * 8 + 5), b]);
}

export function message(...parts: Bytes[]): Bytes {
  return concat(parts);
}

export type Dim = number | string | null;

/** ValueInfoProto of a tensor. */
export function valueInfo(name: string, elemType: number, shape: Dim[] | null): Bytes {
  const dims = shape === null ? [] : [fBytes(2, message(...shape.map((d) => fBytes(1, d === null ? new Uint8Array(0) : typeof d === 'number' ? fVarint(1, d) : fBytes(2, d)))))];
  const tensorType = message(fVarint(1, elemType), ...dims);
  return message(fBytes(1, name), fBytes(2, fBytes(1, tensorType)));
}

export interface TensorSpec {
  name: string;
  dataType: number;
  dims: number[];
  /** Raw little-endian bytes (stored in raw_data). */
  raw?: Bytes;
  /** Stored outside the model file (data_location EXTERNAL). */
  external?: { location: string; offset?: number; length?: number };
}

export function tensor(t: TensorSpec): Bytes {
  const parts: Bytes[] = [...t.dims.map((d) => fVarint(1, d)), fVarint(2, t.dataType), fBytes(8, t.name)];
  if (t.raw) parts.push(fBytes(9, t.raw));
  if (t.external) {
    const kv = (k: string, v: string) => fBytes(13, message(fBytes(1, k), fBytes(2, v)));
    parts.push(kv('location', t.external.location));
    if (t.external.offset !== undefined) parts.push(kv('offset', String(t.external.offset)));
    if (t.external.length !== undefined) parts.push(kv('length', String(t.external.length)));
    parts.push(fVarint(14, 1));
  }
  return message(...parts);
}

export type AttrValue = { i: number } | { f: number } | { s: string } | { ints: number[] } | { t: TensorSpec };

export function attribute(name: string, v: AttrValue): Bytes {
  // AttributeProto.type: FLOAT 1, INT 2, STRING 3, TENSOR 4, INTS 7
  if ('i' in v) return message(fBytes(1, name), fVarint(20, 2), fVarint(3, v.i));
  if ('f' in v) return message(fBytes(1, name), fVarint(20, 1), fFloat(2, v.f));
  if ('s' in v) return message(fBytes(1, name), fVarint(20, 3), fBytes(4, v.s));
  if ('ints' in v) return message(fBytes(1, name), fVarint(20, 7), ...v.ints.map((i) => fVarint(8, i)));
  return message(fBytes(1, name), fVarint(20, 4), fBytes(5, tensor(v.t)));
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  domain?: string;
  name?: string;
  attrs?: Record<string, AttrValue>;
}

export function node(n: NodeSpec): Bytes {
  return message(
    ...n.inputs.map((i) => fBytes(1, i)),
    ...n.outputs.map((o) => fBytes(2, o)),
    ...(n.name ? [fBytes(3, n.name)] : []),
    fBytes(4, n.op),
    ...Object.entries(n.attrs ?? {}).map(([k, v]) => fBytes(5, attribute(k, v))),
    ...(n.domain ? [fBytes(7, n.domain)] : []),
  );
}

export interface ModelSpec {
  nodes: NodeSpec[];
  inputs: Array<{ name: string; type: number; shape: Dim[] | null }>;
  outputs: Array<{ name: string; type: number; shape: Dim[] | null }>;
  initializers?: TensorSpec[];
  /** Default { '': 17 }; add 'com.microsoft': 1 for contrib ops. */
  opsets?: Record<string, number>;
  irVersion?: number;
  producer?: string;
  graphName?: string;
}

export function model(m: ModelSpec): Bytes {
  const graph = message(
    ...m.nodes.map((n) => fBytes(1, node(n))),
    fBytes(2, m.graphName ?? 'g'),
    ...(m.initializers ?? []).map((t) => fBytes(5, tensor(t))),
    ...m.inputs.map((i) => fBytes(11, valueInfo(i.name, i.type, i.shape))),
    ...m.outputs.map((o) => fBytes(12, valueInfo(o.name, o.type, o.shape))),
  );
  const opsets = Object.entries(m.opsets ?? { '': 17 }).map(([domain, version]) => fBytes(8, message(...(domain ? [fBytes(1, domain)] : []), fVarint(2, version))));
  return message(fVarint(1, m.irVersion ?? 8), fBytes(2, m.producer ?? 'atelier'), fBytes(7, graph), ...opsets);
}

/** A one-node Identity graph `x → y` (any rank) of the given element type. */
export function identityModel(elemType: number): Bytes {
  return model({
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    inputs: [{ name: 'x', type: elemType, shape: null }],
    outputs: [{ name: 'y', type: elemType, shape: null }],
    producer: 'atelier-upload',
  });
}
