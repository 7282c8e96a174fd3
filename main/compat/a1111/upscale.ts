/**
 * A1111 `POST /sdapi/v1/extra-single-image` (upscale one image) through the AtelierApi: the image
 * is imported into the current project, upscaled 2× or 4× by the studio's own upscale job (an
 * installed upscaler model, or Lanczos), and both land in the library like any other upscale.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { GenerationRecord } from '../../../common/api/contract';
import { SOURCE_TAGS } from '../../app/jobs-api';
import { generationPng, type CompatContext } from '../context';
import { decodeBase64Image, ImageInputError, toPng } from '../images';
import { A1111Error, fromApiError, invalidField } from './errors';

const MAX_SIDE = 8192;

export async function upscaleSingleImage(ctx: CompatContext, raw: unknown): Promise<{ html_info: string; image: string }> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidField([], 'the request body must be a JSON object', 'type_error.dict');
  const body = raw as Record<string, unknown>;
  if (!body.image) throw new A1111Error(404, 'Image not found');
  let image;
  try {
    image = await decodeBase64Image(body.image, 'image');
  } catch (err) {
    if (err instanceof ImageInputError) throw new A1111Error(422, `Invalid encoded image: ${err.message}`, 'RequestValidationError');
    throw err;
  }
  const mode = Number(body.resize_mode ?? 0);
  let width: number;
  let height: number;
  if (mode === 1) {
    width = Math.round(Number(body.upscaling_resize_w ?? 512));
    height = Math.round(Number(body.upscaling_resize_h ?? 512));
  } else {
    const by = Number(body.upscaling_resize ?? 2);
    if (!Number.isFinite(by) || by < 1 || by > 8) throw invalidField(['upscaling_resize'], 'must be from 1 to 8');
    width = Math.round(image.width * by);
    height = Math.round(image.height * by);
  }
  if (!(width >= 1 && height >= 1 && width <= MAX_SIDE && height <= MAX_SIDE)) throw invalidField(['upscaling_resize'], `the result must be from 1 to ${MAX_SIDE} px per side`);
  const scale = Math.max(width / image.width, height / image.height);
  const factor: 2 | 4 = scale > 2 ? 4 : 2;
  const wanted = typeof body.upscaler_1 === 'string' ? body.upscaler_1 : 'None';
  const upscaler = wanted === 'None' || wanted === 'Lanczos' || wanted === '' ? 'lanczos' : wanted;

  // Into the library: the source as an imported image, then the upscale job under it.
  const dir = await mkdtemp(join(tmpdir(), 'atelier-extras-'));
  let source: GenerationRecord;
  try {
    const file = join(dir, 'extras-input.png');
    await writeFile(file, image.format === 'png' ? image.bytes : await toPng(image.bytes));
    const imported = await ctx.dispatch('importImages', { paths: [file] });
    if (!imported.ok) throw fromApiError(imported.error);
    const value = imported.value as { imported: GenerationRecord[]; skipped: { reason: string }[] };
    if (!value.imported[0]) throw new A1111Error(422, `The image could not be imported: ${value.skipped[0]?.reason ?? 'unknown reason'}`);
    source = value.imported[0];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const submitted = await ctx.jobs.submit({ method: 'upscaleImage', request: { generationId: source.id, factor, upscaler } });
  if (!submitted.ok) throw fromApiError(submitted.error);
  const outcome = await submitted.done;
  if (outcome.kind === 'cancelled') throw new A1111Error(500, 'Interrupted', 'InterruptedError');
  if (outcome.kind === 'failed') throw fromApiError(outcome.error);
  const result = outcome.generations[0];
  for (const g of [source, result]) await ctx.dispatch('updateGeneration', { id: g.id, tags: [...new Set([...g.tags, SOURCE_TAGS.a1111])] });
  let png = await generationPng(ctx, result);
  if (!png) throw new A1111Error(500, 'The upscaled image is missing from the library');
  if (result.width !== width || result.height !== height) png = await sharp(png).resize(width, height, { fit: 'fill', kernel: 'lanczos3' }).png().toBuffer();
  const html = `<p>Upscaled ${image.width}×${image.height} → ${width}×${height} (${factor}× ${upscaler === 'lanczos' ? 'Lanczos' : upscaler})</p>`;
  return { html_info: html, image: png.toString('base64') };
}
