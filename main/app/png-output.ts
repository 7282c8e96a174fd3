/**
 * A standalone generation PNG (CLI output, exports): the same pixels + `parameters` + `atelier`
 * chunks the project library stores, composed from the library's own encoders, then signed with
 * content credentials when a Provenance is given (the signature covers the metadata chunks).
 */
import { embedMetadata, encodeRgb } from '../library/project-files';
import { ulid } from '../library/ids';
import { generationParamsSchema, type GenerationParamsInput, type RawRgbImage } from '../library/types';
import type { Disclosure, ParentFile, Provenance } from '../provenance';

export interface PngSigning {
  provenance: Provenance;
  /** The input image (`--init`), recorded as the parent ingredient. */
  parent?: ParentFile | null;
  disclosure?: Disclosure;
}

export async function encodeGenerationPng(image: RawRgbImage, params: GenerationParamsInput, signing?: PngSigning): Promise<Buffer> {
  const parsed = generationParamsSchema.parse(params);
  const full = { ...parsed, createdAt: parsed.createdAt ?? Date.now() };
  const { png } = await encodeRgb(image);
  const id = ulid(full.createdAt);
  const file = embedMetadata(png, { v: 1, id, params: full });
  if (!signing) return file;
  const signed = await signing.provenance.signGeneration(file, { id, params: full, disclosure: signing.disclosure ?? 'full', parent: signing.parent ?? null });
  return signed.bytes;
}
