/**
 * The wire between the app and its signing process (signer-process.ts ↔ signer-worker.ts): a local
 * socket (a Unix socket, a named pipe on Windows) carrying frames of
 *
 *   [u32 header length][u32 body length][header: JSON][body: raw bytes]
 *
 * Raw bytes, not structured clone: the app writes the image straight from its own buffer (no
 * serialisation copy), and the signer usually answers with only what it inserted (the manifest
 * chunk and where it goes), so no multi-MiB buffer is ever received into the app's heap.
 */
import type { SigningAlgorithm } from './identity';
import type { ImageMime, IngredientAsset } from './c2pa';

/** Caps a frame: a hostile or broken peer cannot make either side allocate without bound. */
export const MAX_HEADER_BYTES = 1024 * 1024;
export const MAX_BODY_BYTES = 512 * 1024 * 1024;

export interface SignRequestHeader {
  type: 'sign';
  id: number;
  mime: ImageMime;
  definition: Record<string, unknown>;
  identity: { certificate: string; privateKey: string; algorithm: SigningAlgorithm; key: string };
  /** The asset first, then each ingredient's bytes, in this order, make up the body. */
  assetLength: number;
  ingredients: Array<Omit<IngredientAsset, 'bytes'> & { length: number }>;
}

/** The first frame the signer sends: proves it is the process this app started (the token came in its environment). */
export interface HelloHeader {
  type: 'hello';
  token: string;
  pid: number;
}

export type SignResponseHeader =
  | {
      type: 'signed';
      id: number;
      /** insert: the body is inserted into the request's asset at `at`; whole: the body is the signed file. */
      mode: 'insert' | 'whole';
      at: number;
      warnings: string[];
      /** CPU the signer spent on this request (user + system, ms): the app's bench counts it. */
      cpuMs: number;
    }
  | { type: 'failed'; id: number; message: string; warnings: string[] };

/** A frame as the buffers to write, in order; the body's parts are sent as they are (no copy). */
export function encodeFrame(header: object, body: Uint8Array | Uint8Array[] = []): Buffer[] {
  const parts = (Array.isArray(body) ? body : [body]).filter((b) => b.length > 0).map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.allocUnsafe(8);
  prefix.writeUInt32BE(json.length, 0);
  prefix.writeUInt32BE(parts.reduce((n, b) => n + b.length, 0), 4);
  return [prefix, json, ...parts];
}

/**
 * Collects a byte stream into frames. The receive buffer is kept and reused (grown, never shrunk):
 * in the signer, that keeps its biggest buffer warm between signings. A frame's body is a view into
 * that buffer, valid until the next `push` — the reader handles one frame at a time.
 */
export class FrameReader {
  private buf: Buffer;
  private start = 0;
  private end = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  push(chunk: Buffer): void {
    if (this.start === this.end) this.start = this.end = 0;
    if (this.end + chunk.length > this.buf.length) {
      const used = this.end - this.start;
      if (used + chunk.length <= this.buf.length) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        let size = this.buf.length;
        while (size < used + chunk.length) size *= 2;
        const grown = Buffer.allocUnsafe(size);
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.start = 0;
      this.end = used;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  /** The next complete frame, or null. Throws on a frame over the caps (the connection is then dropped). */
  next(): { header: Record<string, unknown>; body: Buffer } | null {
    const have = this.end - this.start;
    if (have < 8) return null;
    const headerLen = this.buf.readUInt32BE(this.start);
    const bodyLen = this.buf.readUInt32BE(this.start + 4);
    if (headerLen > MAX_HEADER_BYTES || bodyLen > MAX_BODY_BYTES) throw new Error(`frame too large (header ${headerLen}, body ${bodyLen} bytes)`);
    if (have < 8 + headerLen + bodyLen) return null;
    const h0 = this.start + 8;
    const header = JSON.parse(this.buf.toString('utf8', h0, h0 + headerLen)) as Record<string, unknown>;
    const body = this.buf.subarray(h0 + headerLen, h0 + headerLen + bodyLen);
    this.start = h0 + headerLen + bodyLen;
    return { header, body };
  }
}

/**
 * How `signed` differs from `input` when the signer only inserted one block (a PNG caBX chunk, a
 * JPEG's APP11 segments): the offset and the inserted bytes, or null when it changed anything else
 * (WebP rewrites its RIFF size, for one) and the whole file must travel back.
 */
export function insertedBlock(input: Uint8Array, signed: Uint8Array): { at: number; block: Buffer } | null {
  const extra = signed.length - input.length;
  if (extra <= 0) return null;
  const a = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const b = Buffer.from(signed.buffer, signed.byteOffset, signed.byteLength);
  // Common prefix, a block at a time (Buffer.compare is memcmp), then byte by byte in the block that differs.
  const STEP = 64 * 1024;
  let at = 0;
  while (at < a.length) {
    const stop = Math.min(a.length, at + STEP);
    if (a.compare(b, at, stop, at, stop) === 0) {
      at = stop;
      continue;
    }
    while (a[at] === b[at]) at++;
    break;
  }
  if (b.compare(a, at, a.length, at + extra, b.length) !== 0) return null;
  return { at, block: b.subarray(at, at + extra) };
}
