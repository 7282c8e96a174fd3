/**
 * VAE decode in overlapping latent tiles, blended with feathered weights, so large images (2048²
 * and up) decode in bounded memory: a full SD VAE decoder at 2048² needs several GB of
 * activations, a 64×64-latent tile a few hundred MB. Real decoders' GroupNorm sees per-tile
 * statistics, so tiles differ slightly in tone; the wide feathered overlap hides that (as
 * diffusers' `enable_vae_tiling`). Convolution-only decoders reproduce the untiled result.
 */
import type { LoadedModel } from '../loader';
import type { EngineSession, TensorInfo } from '../ort-backend';
import { featherWeights, scaleSpan, tileSpans } from '../tiling';
import { floatTensor, toFloat32 } from './tensors';

const VAE_SCALE = 8;

export interface VaeTiling {
  /** Tile edge in latent pixels. */
  tile: number;
  /** Latent pixels shared by neighbouring tiles. */
  overlap: number;
}

/** 512 px tiles sharing 128 px: the decoder's receptive field is wide, so a quarter-tile overlap. */
export const DEFAULT_VAE_TILING: VaeTiling = Object.freeze({ tile: 64, overlap: 16 });

/** Above this many latent pixels the decode is tiled: 1024² images (128² latents) still decode whole. */
const AUTO_TILE_ABOVE = 128 * 128;
/** Low-memory mode tiles anything above 512². */
const LOW_MEMORY_TILE_ABOVE = 64 * 64;

/**
 * Whether (and how) to tile one decode. `ATELIER_VAE_TILING=on|off` forces it either way
 * (benchmarks, machines with lots of memory); otherwise it is automatic by size.
 */
export function vaeTilingFor(model: Pick<LoadedModel, 'lowMemory'>, latentH: number, latentW: number, env = process.env.ATELIER_VAE_TILING): VaeTiling | null {
  const fits = latentH <= DEFAULT_VAE_TILING.tile && latentW <= DEFAULT_VAE_TILING.tile;
  if (env === 'off' || fits) return null;
  if (env === 'on') return DEFAULT_VAE_TILING;
  const limit = model.lowMemory ? LOW_MEMORY_TILE_ABOVE : AUTO_TILE_ABOVE;
  return latentH * latentW > limit ? DEFAULT_VAE_TILING : null;
}

/**
 * vae_decoder on one latent [4, h, w] (already divided by the scaling factor) → NCHW sample
 * [3, 8h, 8w] in ≈[-1, 1], whole or tiled.
 */
export async function decodeLatentSample(vae: EngineSession, latentInfo: TensorInfo, latent: Float32Array, h: number, w: number, tiling: VaeTiling | null): Promise<Float32Array> {
  if (!tiling) return decodeWhole(vae, latentInfo, latent, h, w);
  const rows = tileSpans(h, tiling.tile, tiling.overlap);
  const cols = tileSpans(w, tiling.tile, tiling.overlap);
  const outW = w * VAE_SCALE;
  const outH = h * VAE_SCALE;
  const outPlane = outW * outH;
  const acc = new Float32Array(3 * outPlane);
  const weightSum = new Float32Array(outPlane);
  const colWeights = cols.map((c) => featherWeights(scaleSpan(c, VAE_SCALE), outW, tiling.overlap * VAE_SCALE));
  for (const row of rows) {
    const oRow = scaleSpan(row, VAE_SCALE);
    const wy = featherWeights(oRow, outH, tiling.overlap * VAE_SCALE);
    for (const [ci, col] of cols.entries()) {
      const oCol = scaleSpan(col, VAE_SCALE);
      const tile = await decodeWhole(vae, latentInfo, cropLatent(latent, h, w, row.start, col.start, row.size, col.size), row.size, col.size);
      const wx = colWeights[ci];
      const tilePlane = oRow.size * oCol.size;
      for (let y = 0; y < oRow.size; y++) {
        for (let x = 0; x < oCol.size; x++) {
          const wt = wx[x] * wy[y];
          if (wt === 0) continue;
          const p = (oRow.start + y) * outW + oCol.start + x;
          const t = y * oCol.size + x;
          for (let c = 0; c < 3; c++) acc[c * outPlane + p] += wt * tile[c * tilePlane + t];
          weightSum[p] += wt;
        }
      }
    }
  }
  for (let p = 0; p < outPlane; p++) {
    const wsum = weightSum[p] || 1;
    for (let c = 0; c < 3; c++) acc[c * outPlane + p] /= wsum;
  }
  return acc;
}

async function decodeWhole(vae: EngineSession, latentInfo: TensorInfo, latent: Float32Array, h: number, w: number): Promise<Float32Array> {
  const out = await vae.run({ latent_sample: floatTensor(latentInfo, latent, [1, 4, h, w]) });
  const sample = out.sample;
  if (!sample) throw new Error('vae_decoder returned no "sample" output.');
  const [, , oh, ow] = sample.dims;
  if (oh !== h * VAE_SCALE || ow !== w * VAE_SCALE) {
    throw new Error(`vae_decoder returned ${ow}×${oh} for a ${w * VAE_SCALE}×${h * VAE_SCALE} request (expected an 8× upsampling VAE).`);
  }
  return toFloat32(sample);
}

function cropLatent(latent: Float32Array, h: number, w: number, y0: number, x0: number, th: number, tw: number): Float32Array {
  const out = new Float32Array(4 * th * tw);
  for (let c = 0; c < 4; c++) {
    for (let y = 0; y < th; y++) {
      const from = (c * h + y0 + y) * w + x0;
      out.set(latent.subarray(from, from + tw), (c * th + y) * tw);
    }
  }
  return out;
}
