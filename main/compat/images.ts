/** Image bytes as the compatibility clients send them (base64, uploads), checked before any job is queued. */
import sharp from 'sharp';

export interface DecodedImage {
  bytes: Buffer;
  width: number;
  height: number;
  hasAlpha: boolean;
  format: string;
}

export class ImageInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ImageInputError';
  }
}

/** The most bytes one decoded input image may have (the API schemas' base64 limit, decoded). */
export const MAX_IMAGE_BYTES = 64 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Base64 as A1111 and ComfyUI clients send it: raw, or a `data:…;base64,` URL. */
export function stripDataUrl(text: string): string {
  const comma = text.indexOf(',');
  return text.startsWith('data:') && comma > 0 ? text.slice(comma + 1) : text;
}

/** Raw or `data:` URL base64 → checked image bytes; throws ImageInputError naming `field`. */
export async function decodeBase64Image(value: unknown, field: string): Promise<DecodedImage> {
  if (typeof value !== 'string' || value.trim() === '') throw new ImageInputError(field, `${field}: expected a base64-encoded image`);
  const text = stripDataUrl(value.trim()).replace(/\s+/g, '');
  if (!BASE64.test(text) || text.length % 4 === 1) throw new ImageInputError(field, `${field}: not valid base64`);
  if (text.length > Math.ceil(MAX_IMAGE_BYTES / 3) * 4) throw new ImageInputError(field, `${field}: larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MB`);
  return inspectImage(Buffer.from(text, 'base64'), field);
}

/** Bytes → checked image (PNG, JPEG, WebP, …); throws ImageInputError when they are not one. */
export async function inspectImage(bytes: Buffer, field: string): Promise<DecodedImage> {
  if (bytes.length === 0) throw new ImageInputError(field, `${field}: empty image`);
  if (bytes.length > MAX_IMAGE_BYTES) throw new ImageInputError(field, `${field}: larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MB`);
  try {
    const meta = await sharp(bytes, { limitInputPixels: 8192 * 8192 }).metadata();
    if (!meta.width || !meta.height || !meta.format) throw new Error('no size');
    return { bytes, width: meta.width, height: meta.height, hasAlpha: Boolean(meta.hasAlpha), format: meta.format };
  } catch {
    throw new ImageInputError(field, `${field}: not a readable image (PNG, JPEG or WebP expected)`);
  }
}

/** A mask with black and white swapped (A1111 `inpainting_mask_invert`). */
export async function invertMask(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes).flatten({ background: '#000000' }).greyscale().negate({ alpha: false }).png().toBuffer();
}

/** ComfyUI LoadImage's MASK: 1 − alpha (transparent pixels are repainted), as a white-on-black PNG. */
export async function maskFromAlpha(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes).ensureAlpha().extractChannel('alpha').negate({ alpha: false }).png().toBuffer();
}

/** Any image → PNG bytes (an uploaded JPEG handed on as an init image keeps its pixels). */
export async function toPng(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes).png().toBuffer();
}
