/**
 * Image upscaling: a Real-ESRGAN-style single-graph ONNX model (input [1,3,H,W] in 0..1, output
 * [1,3,sH,sW]) run in overlapping tiles with feathered blending (no seams, bounded memory), or
 * Lanczos (sharp) when no upscaler model is installed. Names, dtypes and the scale come from the
 * graph itself: exports name their tensors differently and rarely carry the scale as metadata.
 */
import sharp from 'sharp';
import { createSession, type EngineSession, type ProviderChoice, type TensorInfo } from './ort-backend';
import { CancelledError, type RgbImage } from './pipeline';
import { floatTensor, toFloat32 } from './pipeline/tensors';
import { featherWeights, scaleSpan, tileSpans, type TileSpan } from './tiling';

export type UpscaleFactor = 2 | 4;

/** Largest image an upscale may produce (the same bound image inputs have). */
export const MAX_UPSCALED_PIXELS = 8192 * 8192;

/** Refused upscaler graphs and factor/model mismatches; the message says what to do instead. */
export class UpscaleError extends Error {
  override name = 'UpscaleError';
}

export interface Upscaler {
  readonly modelPath: string;
  /** Output size / input size, probed from the graph. */
  readonly scale: number;
  readonly provider: string;
  /** Fixed input size for graphs exported with static H/W (tiles are padded to it); null when dynamic. */
  readonly fixedTile: { width: number; height: number } | null;
  /** One tile: CHW floats in 0..1 → CHW floats of the upscaled tile. */
  runTile(chw: Float32Array, width: number, height: number): Promise<Float32Array>;
  release(): Promise<void>;
}

export interface UpscaleOptions {
  /** Input-pixel tile edge (default 192: RRDBNet activations at 4× stay ≈ 100 MB). */
  tile?: number;
  /** Input pixels shared by neighbouring tiles (default 32). */
  overlap?: number;
  onTile?(done: number, total: number): void;
  isCancelled?(): boolean;
}

const PROBE_SIZE = 16;

function staticDim(info: TensorInfo, axis: number): number | null {
  const d = info.shape[axis];
  return typeof d === 'number' && d > 0 ? d : null;
}

/** Open an upscaler graph and learn its I/O contract (probing a blank tile when the shapes are symbolic). */
export async function openUpscaler(modelPath: string, opts: { provider?: ProviderChoice; threads?: number; deviceId?: number } = {}): Promise<Upscaler> {
  const session = await createSession(modelPath, opts);
  try {
    return await describeUpscaler(session);
  } catch (err) {
    await session.release();
    throw err;
  }
}

async function describeUpscaler(session: EngineSession): Promise<Upscaler> {
  const where = session.modelPath;
  if (session.inputs.length !== 1 || session.outputs.length < 1) {
    throw new UpscaleError(`${where} is not a single-image upscaler: it has ${session.inputs.length} inputs (expected one [1,3,H,W] image).`);
  }
  const input = session.inputs[0];
  const output = session.outputs[0];
  for (const t of [input, output]) {
    if (t.type !== 'float32' && t.type !== 'float16') throw new UpscaleError(`${where}: "${t.name}" is ${t.type}; upscalers take and give float32 or float16 images.`);
    if (t.shape.length !== 4) throw new UpscaleError(`${where}: "${t.name}" has rank ${t.shape.length}; expected [1,3,H,W].`);
  }
  const channels = staticDim(input, 1);
  if (channels !== null && channels !== 3) throw new UpscaleError(`${where} takes ${channels}-channel images; only RGB (3) upscalers are supported.`);
  const fixedH = staticDim(input, 2);
  const fixedW = staticDim(input, 3);
  const fixedTile = fixedH && fixedW ? { width: fixedW, height: fixedH } : null;

  const run = async (chw: Float32Array, width: number, height: number) => {
    const out = await session.run({ [input.name]: floatTensor(input, chw, [1, 3, height, width]) });
    const t = out[output.name];
    const [, c, oh, ow] = t.dims;
    return { data: toFloat32(t), channels: c, width: ow, height: oh };
  };

  // The scale: from static shapes when both are known, else from a blank probe tile.
  let scale: number;
  const outH = staticDim(output, 2);
  if (fixedTile && outH) scale = outH / fixedTile.height;
  else {
    const w = fixedTile?.width ?? PROBE_SIZE;
    const h = fixedTile?.height ?? PROBE_SIZE;
    const probe = await run(new Float32Array(3 * w * h).fill(0.5), w, h);
    if (probe.channels !== 3) throw new UpscaleError(`${where} returned ${probe.channels} channels for an RGB image; expected 3.`);
    scale = probe.height / h;
    if (probe.width / w !== scale) throw new UpscaleError(`${where} scales width by ${probe.width / w} but height by ${scale}; only uniform upscalers are supported.`);
  }
  if (!Number.isInteger(scale) || scale < 1 || scale > 8) throw new UpscaleError(`${where} changes the size by ${scale}×; expected a whole factor between 1 and 8.`);

  return {
    modelPath: where,
    scale,
    provider: session.provider,
    fixedTile,
    async runTile(chw, width, height) {
      if (!fixedTile) {
        const r = await run(chw, width, height);
        if (r.width !== width * scale || r.height !== height * scale) throw new Error(`${where} returned ${r.width}×${r.height} for a ${width}×${height} tile (expected ${scale}×).`);
        return r.data;
      }
      // Static graphs: pad the tile by repeating its edge, then keep the part that maps to real pixels.
      const padded = padChw(chw, width, height, fixedTile.width, fixedTile.height);
      const r = await run(padded, fixedTile.width, fixedTile.height);
      return cropChw(r.data, r.width, r.height, width * scale, height * scale);
    },
    release: () => session.release(),
  };
}

function padChw(src: Float32Array, w: number, h: number, pw: number, ph: number): Float32Array {
  if (w > pw || h > ph) throw new Error(`tile ${w}×${h} exceeds the graph's fixed ${pw}×${ph} input`);
  const out = new Float32Array(3 * pw * ph);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < ph; y++) {
      const sy = Math.min(y, h - 1);
      for (let x = 0; x < pw; x++) out[(c * ph + y) * pw + x] = src[(c * h + sy) * w + Math.min(x, w - 1)];
    }
  }
  return out;
}

function cropChw(src: Float32Array, sw: number, sh: number, w: number, h: number): Float32Array {
  const out = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) out.set(src.subarray((c * sh + y) * sw, (c * sh + y) * sw + w), (c * h + y) * w);
  return out;
}

function tileToChw(img: RgbImage, x0: number, y0: number, w: number, h: number): Float32Array {
  const out = new Float32Array(3 * w * h);
  const plane = w * h;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = ((y0 + y) * img.width + x0 + x) * 3;
      const o = y * w + x;
      out[o] = img.rgb[i] / 255;
      out[plane + o] = img.rgb[i + 1] / 255;
      out[2 * plane + o] = img.rgb[i + 2] / 255;
    }
  }
  return out;
}

/**
 * Upscale by the model's own scale, tile by tile. Blending happens in a band of output rows one
 * tile high (finished rows are written out and the band moves down), so an 8192² result needs the
 * output bytes plus one band of floats, not a full float canvas.
 */
export async function upscaleTiled(upscaler: Upscaler, image: RgbImage, opts: UpscaleOptions = {}): Promise<RgbImage> {
  const s = upscaler.scale;
  const outW = image.width * s;
  const outH = image.height * s;
  if (outW * outH > MAX_UPSCALED_PIXELS) throw new UpscaleError(`${image.width}×${image.height} at ${s}× would be ${outW}×${outH}, more than ${MAX_UPSCALED_PIXELS / 1e6 | 0} MP.`);
  const overlap = opts.overlap ?? 32;
  const tileW = upscaler.fixedTile?.width ?? opts.tile ?? 192;
  const tileH = upscaler.fixedTile?.height ?? opts.tile ?? 192;
  const rows = tileSpans(image.height, tileH, Math.min(overlap, Math.floor((tileH - 1) / 2)));
  const cols = tileSpans(image.width, tileW, Math.min(overlap, Math.floor((tileW - 1) / 2)));
  const rowOverlap = Math.min(overlap, Math.floor((tileH - 1) / 2)) * s;
  const colOverlap = Math.min(overlap, Math.floor((tileW - 1) / 2)) * s;
  const colWeights = cols.map((c) => featherWeights(scaleSpan(c, s), outW, colOverlap));

  const out = new Uint8Array(outW * outH * 3);
  const bandRows = Math.min(tileH, image.height) * s;
  const acc = new Float32Array(outW * bandRows * 3);
  const weightSum = new Float32Array(outW * bandRows);
  let bandTop = 0;
  const total = rows.length * cols.length;
  let done = 0;
  for (const [ri, row] of rows.entries()) {
    const oRow = scaleSpan(row, s);
    const rowWeights = featherWeights(oRow, outH, rowOverlap);
    for (const [ci, col] of cols.entries()) {
      if (opts.isCancelled?.()) throw Object.assign(new CancelledError(done), { message: `Upscale cancelled after ${done} of ${total} tiles.` });
      const tile = await upscaler.runTile(tileToChw(image, col.start, row.start, col.size, row.size), col.size, row.size);
      accumulate(acc, weightSum, outW, bandTop, tile, scaleSpan(col, s), oRow, colWeights[ci], rowWeights);
      opts.onTile?.(++done, total);
      // Let cancel requests and progress events through between tiles.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const nextTop = ri + 1 < rows.length ? rows[ri + 1].start * s : outH;
    flushRows(acc, weightSum, outW, bandTop, nextTop, oRow.start + oRow.size, out);
    bandTop = nextTop;
  }
  return { width: outW, height: outH, rgb: out };
}

function accumulate(acc: Float32Array, weightSum: Float32Array, outW: number, bandTop: number, tile: Float32Array, col: TileSpan, row: TileSpan, wx: Float32Array, wy: Float32Array): void {
  const plane = col.size * row.size;
  for (let y = 0; y < row.size; y++) {
    const by = row.start + y - bandTop;
    for (let x = 0; x < col.size; x++) {
      const w = wx[x] * wy[y];
      if (w === 0) continue;
      const p = by * outW + col.start + x;
      const t = y * col.size + x;
      acc[p * 3] += w * tile[t];
      acc[p * 3 + 1] += w * tile[plane + t];
      acc[p * 3 + 2] += w * tile[2 * plane + t];
      weightSum[p] += w;
    }
  }
}

/** Write band rows [bandTop, nextTop) out as bytes, then move rows [nextTop, bandEnd) to the band's top. */
function flushRows(acc: Float32Array, weightSum: Float32Array, outW: number, bandTop: number, nextTop: number, bandEnd: number, out: Uint8Array): void {
  const finished = (nextTop - bandTop) * outW;
  for (let p = 0; p < finished; p++) {
    const wsum = weightSum[p] || 1;
    const o = (bandTop * outW + p) * 3;
    for (let c = 0; c < 3; c++) {
      const v = acc[p * 3 + c] / wsum;
      out[o + c] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
    }
  }
  const keep = (bandEnd - nextTop) * outW;
  acc.copyWithin(0, finished * 3, (finished + keep) * 3);
  weightSum.copyWithin(0, finished, finished + keep);
  acc.fill(0, keep * 3);
  weightSum.fill(0, keep);
}

/** Lanczos-3 resize (sharp): the built-in upscaler, and the step down when a model's scale overshoots. */
export async function resizeLanczos(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (width * height > MAX_UPSCALED_PIXELS) throw new UpscaleError(`${width}×${height} is more than ${MAX_UPSCALED_PIXELS / 1e6 | 0} MP.`);
  const { data, info } = await sharp(Buffer.from(image.rgb.buffer, image.rgb.byteOffset, image.rgb.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
    limitInputPixels: false,
  })
    .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * `factor`× with `upscaler` (or Lanczos when null). A model whose scale is a multiple of the
 * factor runs and is resized down (a 4× model serving 2×, as A1111 does); a smaller one is refused.
 */
export async function upscaleImage(image: RgbImage, factor: UpscaleFactor, upscaler: Upscaler | null, opts: UpscaleOptions = {}): Promise<RgbImage> {
  const width = image.width * factor;
  const height = image.height * factor;
  if (width * height > MAX_UPSCALED_PIXELS) throw new UpscaleError(`${image.width}×${image.height} at ${factor}× would be ${width}×${height}, more than ${MAX_UPSCALED_PIXELS / 1e6 | 0} MP.`);
  if (!upscaler) {
    if (opts.isCancelled?.()) throw new CancelledError(0);
    const out = await resizeLanczos(image, width, height);
    opts.onTile?.(1, 1);
    return out;
  }
  assertUpscalerFits(upscaler.scale, factor, upscaler.modelPath);
  if (upscaler.scale > factor && image.width * image.height * upscaler.scale ** 2 > MAX_UPSCALED_PIXELS) {
    throw new UpscaleError(`${upscaler.modelPath} upscales ${upscaler.scale}× before the step down to ${factor}×, which would be ${image.width * upscaler.scale}×${image.height * upscaler.scale} for this ${image.width}×${image.height} image: use a ${factor}× upscaler or "lanczos".`);
  }
  const upscaled = await upscaleTiled(upscaler, image, opts);
  return upscaler.scale === factor ? upscaled : resizeLanczos(upscaled, width, height);
}

export function assertUpscalerFits(scale: number, factor: number, what: string): void {
  if (scale < factor || scale % factor !== 0) {
    throw new UpscaleError(`${what} upscales ${scale}×, so it cannot make a ${factor}× image: install a ${factor}× (or ${factor * 2}×) upscaler, or choose "lanczos".`);
  }
}
