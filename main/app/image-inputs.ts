/**
 * Decodes user-supplied images (init images, masks) into the raw pixels the engine takes.
 * Any format sharp reads; bad bytes give a clear error naming the field, never a crash.
 */
import sharp from 'sharp';
import { AtelierApiError } from '../../common/api/contract';
import type { MaskImage, RgbImage } from '../engine';

const MAX_PIXELS = 8192 * 8192;

async function decode(input: Buffer | string, field: string, channels: 1 | 3): Promise<{ width: number; height: number; data: Uint8Array }> {
  try {
    let img = sharp(input, { limitInputPixels: MAX_PIXELS }).rotate();
    img = channels === 1 ? img.flatten({ background: '#000000' }).greyscale() : img.flatten({ background: '#808080' }).removeAlpha();
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new Error(`decoded ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (err) {
    throw new AtelierApiError('invalid_request', `${field}: not a readable image (${(err as Error).message})`);
  }
}

export async function decodeRgb(input: Buffer | string, field = 'initImage'): Promise<RgbImage> {
  const { width, height, data } = await decode(input, field, 3);
  return { width, height, rgb: data };
}

export async function decodeMask(input: Buffer | string, field = 'mask'): Promise<MaskImage> {
  return decode(input, field, 1);
}
