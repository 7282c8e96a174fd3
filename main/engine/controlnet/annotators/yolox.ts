/**
 * DWPose's person detector: YOLOX-L (yzd-v/DWPose `yolox_l.onnx`, input `images` [1, 3, 640, 640],
 * output [1, 8400, 85] exported with `decode_in_inference = False`). Ported from DWPose's ONNX
 * detector (ControlNet-v1-1-nightly `annotator/dwpose/onnxdet.py`, also in comfyui_controlnet_aux):
 *  - letterbox: scale by min(640/H, 640/W) (INTER_LINEAR, sizes truncated), paste top-left on a
 *    grey-114 canvas, raw 0..255 values in NCHW (no normalisation);
 *  - decode: per stride 8/16/32 grid cell, centre = (offset + cell) · stride, size = exp(log) · stride;
 *    the score of a class is objectness × class probability (both already sigmoid in the graph);
 *  - class-wise NMS at IoU 0.45 over scores > 0.1 (OpenCV-era "+1" box areas), then keep class 0
 *    (person) with score > 0.3, in descending score order.
 */
import type { EngineSession } from '../../ort-backend';
import { floatTensor, toFloat32 } from '../../pipeline/tensors';
import { resizeInterleaved } from './image';

export const DETECTOR_SIZE = 640;
const PAD_VALUE = 114;
const STRIDES = [8, 16, 32] as const;
export const DETECT_NMS_IOU = 0.45;
export const DETECT_MIN_SCORE = 0.1;
export const PERSON_MIN_SCORE = 0.3;

/** A box in the source image's pixels (x1, y1) – (x2, y2) with its person score. */
export interface PersonBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
}

/** Letterboxed detector input [1, 3, inH, inW] (raw 0..255) and the scale applied to the picture. */
export function letterbox(rgb: Uint8Array, width: number, height: number, inW: number, inH: number): { input: Float32Array; ratio: number } {
  const ratio = Math.min(inH / height, inW / width);
  const rw = Math.max(1, Math.floor(width * ratio));
  const rh = Math.max(1, Math.floor(height * ratio));
  const resized = resizeInterleaved(rgb, width, height, 3, rw, rh);
  const plane = inW * inH;
  const input = new Float32Array(3 * plane).fill(PAD_VALUE);
  for (let y = 0; y < rh; y++) {
    for (let x = 0; x < rw; x++) {
      // cv2.resize on uint8 rounds back to bytes.
      for (let c = 0; c < 3; c++) input[c * plane + y * inW + x] = Math.min(255, Math.floor(resized[(y * rw + x) * 3 + c] + 0.5));
    }
  }
  return { input, ratio };
}

/** Rows of the raw head output and what each is: [cx, cy, w, h] in input pixels plus the person score. */
export function decodeYolox(pred: Float32Array, rows: number, cols: number, inW: number, inH: number): PersonBox[] {
  const expected = STRIDES.reduce((n, s) => n + Math.floor(inH / s) * Math.floor(inW / s), 0);
  if (rows !== expected || cols < 6) throw new Error(`YOLOX output has ${rows} × ${cols} values per image; expected ${expected} × (5 + classes) for a ${inW} × ${inH} input.`);
  const boxes: PersonBox[] = [];
  let r = 0;
  for (const s of STRIDES) {
    const hs = Math.floor(inH / s);
    const ws = Math.floor(inW / s);
    for (let gy = 0; gy < hs; gy++) {
      for (let gx = 0; gx < ws; gx++, r++) {
        const o = r * cols;
        const score = pred[o + 4] * pred[o + 5];
        const cx = (pred[o] + gx) * s;
        const cy = (pred[o + 1] + gy) * s;
        const w = Math.exp(pred[o + 2]) * s;
        const h = Math.exp(pred[o + 3]) * s;
        boxes.push({ x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2, score });
      }
    }
  }
  return boxes;
}

/** Greedy NMS in descending score order; IoU with the "+1" pixel areas of DWPose's `nms`. */
export function nms(boxes: readonly PersonBox[], iouThreshold: number): PersonBox[] {
  const order = boxes.map((_, i) => i).sort((a, b) => boxes[b].score - boxes[a].score || a - b);
  const area = (b: PersonBox) => (b.x2 - b.x1 + 1) * (b.y2 - b.y1 + 1);
  const keep: PersonBox[] = [];
  const dropped = new Uint8Array(boxes.length);
  for (let k = 0; k < order.length; k++) {
    if (dropped[order[k]]) continue;
    const a = boxes[order[k]];
    keep.push(a);
    for (let j = k + 1; j < order.length; j++) {
      if (dropped[order[j]]) continue;
      const b = boxes[order[j]];
      const w = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1) + 1);
      const h = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1) + 1);
      const inter = w * h;
      if (inter / (area(a) + area(b) - inter) > iouThreshold) dropped[order[j]] = 1;
    }
  }
  return keep;
}

/** People in an interleaved RGB picture: boxes in its pixels, best first. */
export async function detectPeople(session: EngineSession, rgb: Uint8Array, width: number, height: number): Promise<PersonBox[]> {
  const info = session.inputs[0];
  const inH = typeof info.shape[2] === 'number' && info.shape[2] > 0 ? info.shape[2] : DETECTOR_SIZE;
  const inW = typeof info.shape[3] === 'number' && info.shape[3] > 0 ? info.shape[3] : DETECTOR_SIZE;
  const { input, ratio } = letterbox(rgb, width, height, inW, inH);
  const out = await session.run({ [info.name]: floatTensor(info, input, [1, 3, inH, inW]) });
  const t = out[session.outputs[0].name];
  if (!t || t.dims.length !== 3 || t.dims[0] !== 1) throw new Error(`${session.modelPath}: expected a YOLOX output [1, boxes, 85], got [${t?.dims.join(', ') ?? ''}].`);
  const candidates = decodeYolox(toFloat32(t), t.dims[1], t.dims[2], inW, inH)
    .filter((b) => b.score > DETECT_MIN_SCORE)
    .map((b) => ({ x1: b.x1 / ratio, y1: b.y1 / ratio, x2: b.x2 / ratio, y2: b.y2 / ratio, score: b.score }));
  return nms(candidates, DETECT_NMS_IOU).filter((b) => b.score > PERSON_MIN_SCORE);
}
