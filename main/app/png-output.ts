/**
 * A standalone generation PNG (CLI output, exports): the same pixels + `parameters` + `atelier`
 * chunks the project library stores, composed from the library's own encoders.
 */
import { embedMetadata, encodeRgb } from '../library/project-files';
import { ulid } from '../library/ids';
import { generationParamsSchema, type GenerationParamsInput, type RawRgbImage } from '../library/types';

export async function encodeGenerationPng(image: RawRgbImage, params: GenerationParamsInput): Promise<Buffer> {
  const parsed = generationParamsSchema.parse(params);
  const full = { ...parsed, createdAt: parsed.createdAt ?? Date.now() };
  const { png } = await encodeRgb(image);
  return embedMetadata(png, { v: 1, id: ulid(full.createdAt), params: full });
}
