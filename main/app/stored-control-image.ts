/**
 * `getControlImage`: a control image the open project keeps (main/library/control-images.ts), handed
 * back by the `sha256:` ref a ControlNet unit recorded, so the studio can restore the unit with its
 * image. The bytes go back exactly as stored: sent again with a generate request they hash to the same
 * ref, so the project keeps one file.
 */
import { promises as fsp } from 'node:fs';
import sharp from 'sharp';
import { AtelierApiError } from '../../common/api/contract';
import { controlImageFile } from '../library';

/** Control images are kept as users gave them; past this a data URL is no longer a sensible answer. */
export const MAX_CONTROL_IMAGE_BYTES = 50 * 1024 * 1024;

/** sharp's format names → the MIME type a data URL carries. */
const MIME_BY_FORMAT: Readonly<Record<string, string>> = Object.freeze({
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  avif: 'image/avif',
  heif: 'image/heif',
  svg: 'image/svg+xml',
});

export interface StoredControlImage {
  ref: string;
  dataUrl: string;
  width: number;
  height: number;
  mime: string;
}

export async function readStoredControlImage(projectDir: string, ref: string): Promise<StoredControlImage> {
  const file = await controlImageFile(projectDir, ref);
  if (!file) throw new AtelierApiError('not_found', `No control image ${ref} in this project: it keeps only the images its own generations were made with.`);
  const { size } = await fsp.stat(file);
  if (size > MAX_CONTROL_IMAGE_BYTES) {
    throw new AtelierApiError('invalid_request', `The control image ${ref} is ${(size / 1e6).toFixed(1)} MB; at most ${MAX_CONTROL_IMAGE_BYTES / (1024 * 1024)} MB are handed back. Open the original file again instead.`);
  }
  const bytes = await fsp.readFile(file);
  const { width, height, format } = await describeImage(bytes, ref);
  const mime = MIME_BY_FORMAT[format] ?? `image/${format}`;
  return { ref, dataUrl: `data:${mime};base64,${bytes.toString('base64')}`, width, height, mime };
}

/** Size as displayed (EXIF orientation applied, as the engine's decoder and browsers do) and format; a file that does not decode is an error naming the ref. */
async function describeImage(bytes: Buffer, ref: string): Promise<{ width: number; height: number; format: string }> {
  try {
    const meta = await sharp(bytes).metadata();
    if (!meta.format || !meta.width || !meta.height) throw new Error('no image size or format in the file');
    // Decoding down to one pixel reads every pixel (a truncated file fails here) without holding them all.
    await sharp(bytes).resize(1, 1).raw().toBuffer();
    const turned = (meta.orientation ?? 1) >= 5;
    return { width: turned ? meta.height : meta.width, height: turned ? meta.width : meta.height, format: meta.format };
  } catch (err) {
    throw new AtelierApiError('invalid_request', `The stored control image ${ref} is not a readable image (${(err as Error).message}); open the original file again.`);
  }
}
