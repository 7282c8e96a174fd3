/**
 * The library's side of content credentials, apart from the library class: verifying files (with a
 * cache by content, so the studio's badges do not re-read a stored file's manifest on every scroll)
 * and signing exported renditions with the stored image's own facts and parent.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { readCredentials, type Credentials, type Disclosure, type ParentFile, type Provenance } from '../provenance';
import type { GenerationRecord } from './types';

const MAX_CACHED_VERDICTS = 2000;

export class CredentialsVerifier {
  /** Verdicts by file content (sha256): a changed (tampered) file is a different key and is read again. */
  private readonly verified = new Map<string, Credentials>();

  constructor(private readonly provenance: Provenance | null) {}

  /** Verifies a file's content credentials; "signed here" is recognised when the library signs. */
  async verify(bytes: Uint8Array): Promise<Credentials> {
    const key = createHash('sha256').update(bytes).digest('hex');
    const hit = this.verified.get(key);
    if (hit) return structuredClone(hit);
    const c = await (this.provenance ? this.provenance.verify(bytes) : readCredentials(bytes));
    if (c.state !== 'unknown') {
      if (this.verified.size >= MAX_CACHED_VERDICTS) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(key, c);
    }
    return structuredClone(c);
  }
}

/** A stored generation's file as a manifest ingredient, or null (no parent, or its file is gone). */
export async function parentFileOf(get: (id: string) => GenerationRecord | null, parentId: string | null): Promise<ParentFile | null> {
  const parent = parentId ? get(parentId) : null;
  if (!parent) return null;
  try {
    return { bytes: await fsp.readFile(parent.imagePath), title: `${parent.id}.png` };
  } catch {
    return null;
  }
}

/**
 * Signs an exported rendition (JPEG/WebP re-encode, or a stored PNG written before signing existed):
 * a generation gets its own manifest again, its parent as ingredient; an import opens the stored file.
 */
export async function signExportedRendition(
  provenance: Provenance,
  lib: { dir: string; get(id: string): GenerationRecord | null; credentialsDisclosure(): Disclosure },
  record: GenerationRecord,
  bytes: Buffer,
): Promise<Buffer> {
  if (record.origin === 'imported') {
    const stored = await fsp.readFile(record.imagePath);
    return (await provenance.signImport(bytes, { id: record.id, original: { bytes: stored, title: `${record.id}.png` }, projectDir: lib.dir })).bytes;
  }
  const parent = await parentFileOf((id) => lib.get(id), record.parentId);
  return (await provenance.signGeneration(bytes, { id: record.id, params: record, disclosure: lib.credentialsDisclosure(), parent, projectDir: lib.dir })).bytes;
}
