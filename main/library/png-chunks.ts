/**
 * Minimal, defensive PNG chunk reader/writer.
 *
 * We do this ourselves (rather than via png-chunks-extract) because the reader must never
 * throw on hostile input: truncated files, bad CRCs and absurd chunk lengths become
 * warnings, and compressed text is inflated with a hard output cap (zip-bomb safe).
 */
import { crc32, inflateSync, deflateSync } from 'node:zlib';

export const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Real PNGs have tens to thousands of chunks; a hostile one can have tens of millions. */
const MAX_CHUNKS = 200_000;

/** Largest decompressed text we accept from one zTXt/iTXt chunk. */
export const MAX_TEXT_BYTES = 8 * 1024 * 1024;

export interface PngChunk {
  type: string;
  data: Uint8Array;
}

export interface PngTextEntry {
  keyword: string;
  text: string;
  chunkType: 'tEXt' | 'zTXt' | 'iTXt';
}

export function isPng(bytes: Uint8Array): boolean {
  if (bytes.length < PNG_SIGNATURE.length) return false;
  for (let i = 0; i < PNG_SIGNATURE.length; i++) if (bytes[i] !== PNG_SIGNATURE[i]) return false;
  return true;
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function chunkCrc(typeBytes: Uint8Array, data: Uint8Array): number {
  return crc32(data, crc32(typeBytes)) >>> 0;
}

/**
 * Splits a PNG into chunks. Stops (with a warning) at the first structurally broken chunk,
 * keeping everything read so far. A bad CRC is reported but the chunk is still returned,
 * because metadata readers prefer "probably right" to "nothing".
 */
export function readPngChunks(bytes: Uint8Array, warnings: string[] = []): PngChunk[] {
  const chunks: PngChunk[] = [];
  if (!isPng(bytes)) {
    warnings.push('not a PNG file (bad signature)');
    return chunks;
  }
  let at = PNG_SIGNATURE.length;
  while (at < bytes.length) {
    if (chunks.length >= MAX_CHUNKS) {
      warnings.push(`PNG has more than ${MAX_CHUNKS} chunks; the rest was not read`);
      break;
    }
    if (at + 12 > bytes.length) {
      warnings.push(`PNG truncated: incomplete chunk header at byte ${at}`);
      break;
    }
    const length = readU32(bytes, at);
    const typeBytes = bytes.subarray(at + 4, at + 8);
    const type = String.fromCharCode(...typeBytes);
    if (!/^[A-Za-z]{4}$/.test(type)) {
      warnings.push(`PNG corrupt: invalid chunk type at byte ${at}`);
      break;
    }
    if (length > bytes.length - at - 12) {
      warnings.push(`PNG truncated: chunk ${type} claims ${length} bytes but only ${bytes.length - at - 12} remain`);
      break;
    }
    const data = bytes.subarray(at + 8, at + 8 + length);
    const storedCrc = readU32(bytes, at + 8 + length);
    if (storedCrc !== chunkCrc(typeBytes, data)) warnings.push(`PNG chunk ${type} at byte ${at} has a bad CRC`);
    chunks.push({ type, data });
    at += 12 + length;
    if (type === 'IEND') break;
  }
  return chunks;
}

export function encodeChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  const typeBytes = out.subarray(4, 8);
  out.writeUInt32BE(chunkCrc(typeBytes, data), 8 + data.length);
  return out;
}

/** True when every code point fits Latin-1 and there are no NULs (tEXt can carry it). */
export function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || c === 0) return false;
  }
  return true;
}

/** A tEXt chunk when the text is Latin-1, else an uncompressed UTF-8 iTXt chunk. */
export function encodeTextChunk(keyword: string, text: string, opts: { compress?: boolean } = {}): Buffer {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) throw new Error(`PNG text keyword must be 1-79 printable ASCII chars: ${JSON.stringify(keyword)}`);
  const key = Buffer.from(keyword, 'latin1');
  if (isLatin1(text) && !opts.compress) {
    return encodeChunk('tEXt', Buffer.concat([key, Buffer.from([0]), Buffer.from(text, 'latin1')]));
  }
  const utf8 = Buffer.from(text, 'utf8');
  const body = opts.compress ? deflateSync(utf8) : utf8;
  // keyword \0 compressionFlag compressionMethod language \0 translatedKeyword \0 text
  const header = Buffer.from([0, opts.compress ? 1 : 0, 0, 0, 0]);
  return encodeChunk('iTXt', Buffer.concat([key, header, body]));
}

function inflateCapped(data: Uint8Array): Buffer {
  return inflateSync(data, { maxOutputLength: MAX_TEXT_BYTES });
}

/** Decodes one text chunk; returns null (and a warning) when it is malformed. */
export function decodeTextChunk(chunk: PngChunk, warnings: string[]): PngTextEntry | null {
  const { type, data } = chunk;
  if (type !== 'tEXt' && type !== 'zTXt' && type !== 'iTXt') return null;
  const nul = data.indexOf(0);
  if (nul < 1 || nul > 79) {
    warnings.push(`${type} chunk has no valid keyword`);
    return null;
  }
  const keyword = Buffer.from(data.subarray(0, nul)).toString('latin1');
  if (data.length > MAX_TEXT_BYTES) {
    warnings.push(`${type} chunk "${keyword}" is ${data.length} bytes; larger than ${MAX_TEXT_BYTES} and skipped`);
    return null;
  }
  try {
    if (type === 'tEXt') {
      return { keyword, text: Buffer.from(data.subarray(nul + 1)).toString('latin1'), chunkType: type };
    }
    if (type === 'zTXt') {
      const text = inflateCapped(data.subarray(nul + 2)).toString('latin1');
      return { keyword, text, chunkType: type };
    }
    // iTXt
    const compressed = data[nul + 1] === 1;
    let at = nul + 3;
    const langEnd = data.indexOf(0, at);
    if (langEnd < 0) throw new Error('missing language tag terminator');
    const transEnd = data.indexOf(0, langEnd + 1);
    if (transEnd < 0) throw new Error('missing translated keyword terminator');
    at = transEnd + 1;
    const body = data.subarray(at);
    const text = (compressed ? inflateCapped(body) : Buffer.from(body)).toString('utf8');
    return { keyword, text, chunkType: type };
  } catch (err) {
    warnings.push(`${type} chunk "${keyword}" could not be decoded: ${(err as Error).message}`);
    return null;
  }
}

/**
 * Inserts extra chunks right after IHDR (so they precede IDAT, which is where readers
 * like A1111/Pillow and Civitai look first). Returns a new PNG buffer.
 */
export function insertChunksAfterIhdr(png: Uint8Array, extra: Buffer[]): Buffer {
  if (!isPng(png)) throw new Error('insertChunksAfterIhdr: input is not a PNG');
  const ihdrLength = readU32(png, 8);
  const ihdrEnd = 8 + 12 + ihdrLength;
  if (String.fromCharCode(...png.subarray(12, 16)) !== 'IHDR' || ihdrEnd > png.length) {
    throw new Error('insertChunksAfterIhdr: first chunk is not a valid IHDR');
  }
  return Buffer.concat([png.subarray(0, ihdrEnd), ...extra, png.subarray(ihdrEnd)]);
}

/** Reads IHDR width/height, or null. */
export function readPngSize(png: Uint8Array): { width: number; height: number } | null {
  if (!isPng(png) || png.length < 24) return null;
  if (String.fromCharCode(...png.subarray(12, 16)) !== 'IHDR') return null;
  return { width: readU32(png, 16), height: readU32(png, 20) };
}
