/**
 * Depth annotator: Depth-Anything-v2-small (onnx-community/depth-anything-v2-small `onnx/model.onnx`,
 * the transformers.js export) turns a photo into the grey depth map depth ControlNets take.
 *
 * Pre-processing is the repo's `preprocessor_config.json` (DPTImageProcessor): size 518 × 518 with
 * `keep_aspect_ratio` (scale by whichever of 518/H, 518/W is closer to 1) and `ensure_multiple_of` 14
 * (the ViT patch), RGB / 255, ImageNet mean/std → `pixel_values` [1, 3, H, W]. The graph returns
 * `predicted_depth` [1, H', W'] (relative inverse depth, larger = nearer; some exports return a fixed
 * 518 × 518 map whatever the input, so H', W' are read from the result). Post-processing follows the
 * ControlNet extension's depth_anything_v2 preprocessor: resize the map to the output size, min–max to
 * 0..255 (truncated), grey in all three channels. Resampling is bilinear here (the processor asks for
 * bicubic); the depth ControlNets are trained on maps far smoother than that difference.
 */
import type { EngineSession } from '../../ort-backend';
import { floatTensor, toFloat32 } from '../../pipeline/tensors';
import { greyToRgb, IMAGENET, normalisedNchw, resizeInterleaved } from './image';

export const DEPTH_INPUT = 'pixel_values';
export const DEPTH_OUTPUT = 'predicted_depth';
/** DPTImageProcessor `size` and `ensure_multiple_of` of the repo's preprocessor_config.json. */
export const DEPTH_TARGET = 518;
export const DEPTH_MULTIPLE = 14;

/** Python's round(): halves go to the even neighbour (DPT's constrain_to_multiple_of uses it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function toMultiple(value: number, multiple: number): number {
  const x = roundHalfEven(value / multiple) * multiple;
  return x > 0 ? x : Math.ceil(value / multiple) * multiple;
}

/** The model's input size for a width × height picture (DPTImageProcessor with keep_aspect_ratio). */
export function depthInputSize(width: number, height: number, target = DEPTH_TARGET, multiple = DEPTH_MULTIPLE): { width: number; height: number } {
  let scaleH = target / height;
  let scaleW = target / width;
  // Scale as little as possible: keep whichever factor is closer to 1 for both sides.
  if (Math.abs(1 - scaleW) < Math.abs(1 - scaleH)) scaleH = scaleW;
  else scaleW = scaleH;
  return { width: toMultiple(scaleW * width, multiple), height: toMultiple(scaleH * height, multiple) };
}

/** Depth map (dw × dh floats) → width × height grey bytes: bilinear resize, then min–max to 0..255 (truncated). */
export function depthToGrey(depth: Float32Array, dw: number, dh: number, width: number, height: number): Uint8Array {
  const map = dw === width && dh === height ? depth : resizeInterleaved(depth, dw, dh, 1, width, height);
  let min = Infinity;
  let max = -Infinity;
  for (const v of map) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Uint8Array(width * height);
  // A flat map has no depth to show: black, not NaN.
  if (!(max > min)) return out;
  const k = 255 / (max - min);
  for (let p = 0; p < map.length; p++) out[p] = Math.min(255, Math.floor((map[p] - min) * k));
  return out;
}

/** The grey depth control image (interleaved RGB, width × height) of an interleaved RGB photo of the same size. */
export async function depthControlImage(session: EngineSession, rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const input = session.inputs.find((i) => i.name === DEPTH_INPUT) ?? session.inputs[0];
  const size = depthInputSize(width, height);
  const pixels = normalisedNchw(resizeInterleaved(rgb, width, height, 3, size.width, size.height), size.width, size.height, IMAGENET);
  const out = await session.run({ [input.name]: floatTensor(input, pixels, [1, 3, size.height, size.width]) });
  const t = out[DEPTH_OUTPUT] ?? Object.values(out)[0];
  const dims = t?.dims ?? [];
  const dh = dims[dims.length - 2];
  const dw = dims[dims.length - 1];
  if (!t || dims.length < 2 || dims.slice(0, -2).some((d) => d !== 1) || !(dh > 0 && dw > 0)) {
    throw new Error(`${session.modelPath}: expected a depth map [1, H, W] as "${DEPTH_OUTPUT}", got [${dims.join(', ')}].`);
  }
  return greyToRgb(depthToGrey(toFloat32(t), dw, dh, width, height));
}
