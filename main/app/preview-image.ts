/** Turns the engine's small preview RGB (latent resolution) into a PNG data URL for the UI. */
import sharp from 'sharp';

export async function previewDataUrl(rgb: Uint8Array, width: number, height: number, targetLongSide = 256): Promise<string> {
  const scale = Math.max(1, Math.floor(targetLongSide / Math.max(width, height)));
  const png = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } })
    .resize(width * scale, height * scale, { kernel: 'nearest' })
    .png({ compressionLevel: 1 })
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}
