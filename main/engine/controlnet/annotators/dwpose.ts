/**
 * DWPose whole-body pose (yzd-v/DWPose `dw-ll_ucoco_384.onnx`: input `input` [1, 3, 384, 288], outputs
 * `simcc_x` [1, 133, 576] and `simcc_y` [1, 133, 768], COCO-WholeBody order). Ported from DWPose's ONNX
 * pose code (`annotator/dwpose/onnxpose.py` + `wholebody.py`, the RTMPose demo's pre/post-processing):
 *  - per person box: centre and size × 1.25 padding, widened to the model's aspect ratio, warped to the
 *    input size (scale and shift only, bilinear, 0 outside), `(v − mean) / std` with mean
 *    [123.675, 116.28, 103.53], std [58.395, 57.12, 57.375] on the RGB values;
 *  - SimCC decode: per keypoint the arg-max of each axis / 2 (split ratio), score = the smaller of the two
 *    maxima; back to image pixels through the box;
 *  - OpenPose order: a neck is inserted at 17 (mean of the shoulders, visible when both are > 0.3) and the
 *    first 18 are permuted to OpenPose's body order; 18–23 feet, 24–91 face, 92–112 / 113–133 hands.
 */
import type { EngineSession } from '../../ort-backend';
import { floatTensor, toFloat32 } from '../../pipeline/tensors';
import { warpScaleShift } from './image';
import type { PersonBox } from './yolox';

const BOX_PADDING = 1.25;
const MEAN = [123.675, 116.28, 103.53] as const;
const STD = [58.395, 57.12, 57.375] as const;
const SIMCC_SPLIT_RATIO = 2;
/** Keypoints the whole-body model returns; with the inserted neck there are 134. */
export const WHOLEBODY_KEYPOINTS = 133;
export const OPENPOSE_KEYPOINTS = 134;
const VISIBLE = 0.3;
// wholebody.py: new[:, OPENPOSE_IDX] = new[:, MMPOSE_IDX] (after the neck went in at 17).
const MMPOSE_IDX = [17, 6, 8, 10, 7, 9, 12, 14, 16, 13, 15, 2, 1, 4, 3];
const OPENPOSE_IDX = [1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17];

/** A person's keypoints: x, y in image pixels and a score per keypoint. */
export interface Keypoints {
  xy: Float64Array;
  score: Float64Array;
}

/** Centre and (aspect-fixed) size of the region the pose model sees for a box. */
export function poseRegion(box: PersonBox, inW: number, inH: number): { cx: number; cy: number; w: number; h: number } {
  const cx = (box.x1 + box.x2) / 2;
  const cy = (box.y1 + box.y2) / 2;
  let w = (box.x2 - box.x1) * BOX_PADDING;
  let h = (box.y2 - box.y1) * BOX_PADDING;
  const aspect = inW / inH;
  if (w > h * aspect) h = w / aspect;
  else w = h * aspect;
  return { cx, cy, w, h };
}

/** The normalised pose-model input [1, 3, inH, inW] for one region of an interleaved RGB picture. */
export function poseInput(rgb: Uint8Array, width: number, height: number, region: ReturnType<typeof poseRegion>, inW: number, inH: number): Float32Array {
  const s = region.w / inW; // source pixels per input pixel (the same on both axes)
  const warped = warpScaleShift(rgb, width, height, inW, inH, { sx: s, sy: s, tx: region.cx - (inW / 2) * s, ty: region.cy - (inH / 2) * s });
  const plane = inW * inH;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    // cv2.warpAffine on uint8 rounds back to bytes before the normalisation.
    for (let p = 0; p < plane; p++) out[c * plane + p] = (Math.min(255, Math.floor(warped[p * 3 + c] + 0.5)) - MEAN[c]) / STD[c];
  }
  return out;
}

function argmax(a: Float32Array, from: number, n: number): { at: number; value: number } {
  let at = 0;
  let value = a[from];
  for (let i = 1; i < n; i++) {
    if (a[from + i] > value) {
      value = a[from + i];
      at = i;
    }
  }
  return { at, value };
}

/** SimCC arg-max decode of one person → keypoints in the model input's pixels (−0.5 where the score is ≤ 0). */
export function decodeSimcc(simccX: Float32Array, simccY: Float32Array, k: number, wx: number, wy: number): Keypoints {
  const xy = new Float64Array(2 * k);
  const score = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const x = argmax(simccX, j * wx, wx);
    const y = argmax(simccY, j * wy, wy);
    const v = Math.min(x.value, y.value);
    score[j] = v;
    xy[2 * j] = (v > 0 ? x.at : -1) / SIMCC_SPLIT_RATIO;
    xy[2 * j + 1] = (v > 0 ? y.at : -1) / SIMCC_SPLIT_RATIO;
  }
  return { xy, score };
}

/** Model-input pixels → image pixels through the region (RTMPose `keypoints / input_size * scale + center − scale / 2`). */
function toImage(kp: Keypoints, region: ReturnType<typeof poseRegion>, inW: number, inH: number): Keypoints {
  const xy = kp.xy.map((v, i) => (i % 2 === 0 ? (v / inW) * region.w + region.cx - region.w / 2 : (v / inH) * region.h + region.cy - region.h / 2));
  return { xy, score: kp.score };
}

/** COCO-WholeBody (133) → OpenPose-ordered 134 keypoints with the neck. */
export function toOpenPoseOrder(kp: Keypoints): Keypoints {
  const n = kp.score.length;
  if (n !== WHOLEBODY_KEYPOINTS) throw new Error(`DWPose returned ${n} keypoints; expected ${WHOLEBODY_KEYPOINTS} (COCO-WholeBody).`);
  const xy = new Float64Array(2 * OPENPOSE_KEYPOINTS);
  const score = new Float64Array(OPENPOSE_KEYPOINTS);
  // Insert the neck at 17: the others from 17 on move up by one.
  for (let j = 0; j < n; j++) {
    const to = j < 17 ? j : j + 1;
    xy[2 * to] = kp.xy[2 * j];
    xy[2 * to + 1] = kp.xy[2 * j + 1];
    score[to] = kp.score[j];
  }
  xy[34] = (kp.xy[10] + kp.xy[12]) / 2;
  xy[35] = (kp.xy[11] + kp.xy[13]) / 2;
  score[17] = kp.score[5] > VISIBLE && kp.score[6] > VISIBLE ? 1 : 0;
  const srcXy = xy.slice();
  const srcScore = score.slice();
  OPENPOSE_IDX.forEach((to, i) => {
    const from = MMPOSE_IDX[i];
    xy[2 * to] = srcXy[2 * from];
    xy[2 * to + 1] = srcXy[2 * from + 1];
    score[to] = srcScore[from];
  });
  return { xy, score };
}

/** Whole-body keypoints of one person box (OpenPose order, image pixels). */
export async function estimatePose(session: EngineSession, rgb: Uint8Array, width: number, height: number, box: PersonBox): Promise<Keypoints> {
  const info = session.inputs[0];
  const inH = info.shape[2];
  const inW = info.shape[3];
  if (typeof inH !== 'number' || typeof inW !== 'number' || !(inH > 0 && inW > 0)) {
    throw new Error(`${session.modelPath}: the pose model's input must have a fixed size (got [${info.shape.join(', ')}]).`);
  }
  const region = poseRegion(box, inW, inH);
  const out = await session.run({ [info.name]: floatTensor(info, poseInput(rgb, width, height, region, inW, inH), [1, 3, inH, inW]) });
  const sx = out.simcc_x;
  const sy = out.simcc_y;
  if (!sx || !sy || sx.dims.length !== 3 || sy.dims.length !== 3 || sx.dims[1] !== sy.dims[1]) {
    throw new Error(`${session.modelPath}: expected SimCC outputs simcc_x [1, K, Wx] and simcc_y [1, K, Wy].`);
  }
  const decoded = decodeSimcc(toFloat32(sx), toFloat32(sy), sx.dims[1], sx.dims[2], sy.dims[2]);
  return toOpenPoseOrder(toImage(decoded, region, inW, inH));
}
