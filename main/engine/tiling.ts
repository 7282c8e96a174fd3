/**
 * Overlapping tiles and feathered blend weights, shared by the tiled upscaler and the tiled VAE
 * decode. Each tile discards a margin next to every edge it shares with a neighbour (where its
 * zero padding differs from the real neighbourhood), then ramps its weight linearly up to 1.
 * Neighbours' weights are normalised by their sum, so a fully convolutional model whose
 * receptive radius fits in the discarded margin gives exactly its untiled output.
 */

export interface TileSpan {
  start: number;
  size: number;
}

/** Tile positions along one axis: stride `tile − overlap`, the last tile pushed back to end at `length`. */
export function tileSpans(length: number, tile: number, overlap: number): TileSpan[] {
  if (!(tile > 0) || !(overlap >= 0) || overlap * 2 >= tile) {
    throw new RangeError(`tile ${tile} with overlap ${overlap}: the overlap must be less than half the tile`);
  }
  if (length <= tile) return [{ start: 0, size: length }];
  const spans: TileSpan[] = [];
  const stride = tile - overlap;
  for (let start = 0; ; start += stride) {
    if (start + tile >= length) {
      spans.push({ start: length - tile, size: tile });
      break;
    }
    spans.push({ start, size: tile });
  }
  return spans;
}

/** The part of the overlap nearest a shared edge that gets weight 0 (a quarter; the next half ramps). */
export function discardedMargin(overlap: number): number {
  return overlap / 4;
}

/**
 * Blend weight per position of one tile along one axis (all in the same units as `overlap`).
 * Edges on the image border keep weight 1: there is no neighbour to hand over to.
 */
export function featherWeights(span: TileSpan, length: number, overlap: number): Float32Array {
  const w = new Float32Array(span.size).fill(1);
  if (overlap <= 0) return w;
  const margin = discardedMargin(overlap);
  const ramp = overlap / 2;
  const sharesStart = span.start > 0;
  const sharesEnd = span.start + span.size < length;
  for (let i = 0; i < span.size; i++) {
    const center = i + 0.5;
    if (sharesStart) w[i] = Math.min(w[i], clamp01((center - margin) / ramp));
    if (sharesEnd) w[i] = Math.min(w[i], clamp01((span.size - center - margin) / ramp));
  }
  return w;
}

function clamp01(v: number): number {
  return v <= 0 ? 0 : v >= 1 ? 1 : v;
}

/** The same spans at `scale`× resolution (tiles planned on the input, blended on the output). */
export function scaleSpan(span: TileSpan, scale: number): TileSpan {
  return { start: span.start * scale, size: span.size * scale };
}
