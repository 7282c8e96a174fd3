import fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { Reader } from '@contentauth/c2pa-node';
import type { ManifestStoreJson } from '../../main/provenance/c2pa';
import { detectMime } from '../../main/provenance';

/** The official c2pa-rs reader, called directly: what any C2PA tool would see in the file. */
export async function officialRead(bytes: Uint8Array): Promise<ManifestStoreJson | null> {
  const mimeType = detectMime(bytes);
  if (!mimeType) throw new Error('not an image the test knows');
  const reader = await Reader.fromAsset({ buffer: Buffer.from(bytes), mimeType });
  return reader ? (reader.json() as unknown as ManifestStoreJson) : null;
}

export function activeManifest(store: ManifestStoreJson) {
  return store.manifests[store.active_manifest!];
}

export function assertion(store: ManifestStoreJson, label: string): Record<string, unknown> | undefined {
  return activeManifest(store).assertions?.find((a) => a.label === label)?.data as Record<string, unknown> | undefined;
}

/** Actions of the active manifest (c2pa-rs writes actions v2). */
export function actions(store: ManifestStoreJson): Array<Record<string, unknown>> {
  const data = assertion(store, 'c2pa.actions.v2') ?? assertion(store, 'c2pa.actions');
  return ((data?.actions as Array<Record<string, unknown>>) ?? []);
}

/** Byte offset of the first chunk of `type` in a PNG, or -1. */
export function pngChunkOffset(png: Uint8Array, type: string): number {
  const b = Buffer.from(png);
  for (let at = 8; at + 12 <= b.length; ) {
    const len = b.readUInt32BE(at);
    if (b.toString('latin1', at + 4, at + 8) === type) return at;
    at += 12 + len;
  }
  return -1;
}

export function readBytes(file: string): Buffer {
  return fs.readFileSync(file);
}

/** Flips one bit of compressed pixel data and fixes the chunk CRC, as a deliberate tamperer would. */
export function flipPixelByte(png: Uint8Array, offset = 20): Buffer {
  const b = Buffer.from(png);
  const at = pngChunkOffset(b, 'IDAT');
  if (at < 0) throw new Error('no IDAT chunk');
  const len = b.readUInt32BE(at);
  b[at + 8 + Math.min(offset, len - 1)] ^= 0x01;
  b.writeUInt32BE(crc32(b.subarray(at + 8, at + 8 + len), crc32(b.subarray(at + 4, at + 8))) >>> 0, at + 8 + len);
  return b;
}
