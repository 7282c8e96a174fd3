/**
 * Depth (Depth-Anything-v2) and pose (DWPose) annotators on the tiny graphs of
 * models/tools/make_annotator_fixtures.py (same I/O names and layouts as the real models), run with real
 * ORT sessions on the CPU and compared with goldens that script computed by an independent numpy
 * implementation of the pre/post-processing around the same networks in torch.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { depthControlImage, depthInputSize, depthToGrey } from '../../../main/engine/controlnet/annotators/depth';
import type { Keypoints } from '../../../main/engine/controlnet/annotators/dwpose';
import { annotatorFiles } from '../../../main/engine/controlnet/annotators/installed';
import { BODY_COLOURS, drawPose, hueColour } from '../../../main/engine/controlnet/annotators/pose-draw';
import { poseControlImage, poseKeypoints } from '../../../main/engine/controlnet/annotators/pose';
import { detectPeople, nms } from '../../../main/engine/controlnet/annotators/yolox';
import { checkControlNets } from '../../../main/engine/controlnet/prepare';
import { annotatorSession, releaseControlNets } from '../../../main/engine/controlnet/sessions';
import { fitPixels } from '../../../main/engine/image-ops';
import { loadModel, type LoadedModel } from '../../../main/engine/loader';
import type { EngineSession } from '../../../main/engine/ort-backend';
import { PipelineInputError, txt2img, type Txt2ImgParams } from '../../../main/engine/pipeline';
import { BASE_PARAMS } from '../../helpers/engine-fixtures';
import { cnPath, modelWithControlUnet, openCpu } from './helpers';

const DIR = 'test/fixtures/annotators';
const golden = JSON.parse(readFileSync(`${DIR}/golden/meta.json`, 'utf8')) as {
  depth: { width: number; height: number; modelInput: [number, number] };
  pose: { width: number; height: number; boxes: Array<{ box: number[]; score: number }>; people: Array<{ xy: number[]; score: number[] }> };
};
const bytes = (name: string) => new Uint8Array(readFileSync(`${DIR}/golden/${name}`));

let depth: EngineSession;
let detector: EngineSession;
let pose: EngineSession;
beforeAll(async () => {
  depth = await openCpu(`${DIR}/depth/model.onnx`);
  detector = await openCpu(`${DIR}/pose/yolox_l.onnx`);
  pose = await openCpu(`${DIR}/pose/dw-ll_ucoco_384.onnx`);
});
afterAll(async () => {
  for (const s of [depth, detector, pose]) await s?.release();
});

describe('depth annotator (Depth-Anything-v2 I/O)', () => {
  it('model input size: DPTImageProcessor keep_aspect_ratio + multiples of 14', () => {
    expect(depthInputSize(golden.depth.width, golden.depth.height)).toEqual({ width: golden.depth.modelInput[0], height: golden.depth.modelInput[1] });
    expect(depthInputSize(1024, 1024)).toEqual({ width: 518, height: 518 });
    // 512 × 768: the width's factor (518/512) is closer to 1, so the height scales by it too: 777 → 784
    expect(depthInputSize(512, 768)).toEqual({ width: 518, height: 784 });
    // Python's round: 7 / 14 = 0.5 → 0, then the multiple is forced up to 14
    expect(depthInputSize(518, 7).height).toBe(14);
  });

  it('matches the numpy golden (grey in all three channels, min 0 and max 255)', async () => {
    const { width, height } = golden.depth;
    const out = await depthControlImage(depth, bytes('depth-input.rgb'), width, height);
    const expected = bytes('depth-expected.gray');
    expect(out).toHaveLength(width * height * 3);
    let exact = 0;
    for (let p = 0; p < width * height; p++) {
      expect(out[p * 3]).toBe(out[p * 3 + 1]);
      expect(out[p * 3]).toBe(out[p * 3 + 2]);
      // ORT and torch differ in the last float bits: a truncated level may move by one.
      expect(Math.abs(out[p * 3] - expected[p])).toBeLessThanOrEqual(1);
      if (out[p * 3] === expected[p]) exact++;
    }
    expect(exact / (width * height)).toBeGreaterThan(0.97);
    expect(Math.min(...expected)).toBe(0);
    expect(Math.max(...expected)).toBe(255);
  });

  it('min–max: resized to the output size, a flat map is black (no NaN)', () => {
    expect(Array.from(depthToGrey(Float32Array.of(1, 3), 2, 1, 2, 1))).toEqual([0, 255]);
    expect(Array.from(depthToGrey(Float32Array.of(2, 2, 2, 2), 2, 2, 4, 1))).toEqual([0, 0, 0, 0]);
    // 2 → 4 wide, bilinear with half-pixel centres: 1, 1.5, 2.5, 3 → 0, 63, 191, 255
    expect(Array.from(depthToGrey(Float32Array.of(1, 3), 2, 1, 4, 1))).toEqual([0, 63, 191, 255]);
  });
});

describe('pose annotator (DWPose I/O)', () => {
  const { width, height } = golden.pose;

  it('person boxes: letterbox, YOLOX decode, NMS and the 0.3 person threshold as the numpy golden', async () => {
    const boxes = await detectPeople(detector, bytes('pose-input.rgb'), width, height);
    expect(boxes.length).toBe(golden.pose.boxes.length);
    expect(boxes.length).toBeGreaterThan(1); // NMS kept several and dropped overlapping ones
    boxes.forEach((b, i) => {
      const g = golden.pose.boxes[i];
      expect(b.score).toBeCloseTo(g.score, 4);
      [b.x1, b.y1, b.x2, b.y2].forEach((v, k) => expect(v).toBeCloseTo(g.box[k], 2));
    });
  });

  it('whole-body keypoints per person in OpenPose order (neck inserted) as the numpy golden', async () => {
    const people = await poseKeypoints(detector, pose, bytes('pose-input.rgb'), width, height);
    expect(people).toHaveLength(golden.pose.people.length);
    people.forEach((p, i) => {
      const g = golden.pose.people[i];
      expect(p.score).toHaveLength(134);
      p.score.forEach((s, j) => expect(s).toBeCloseTo(g.score[j], 3)); // float32 sums in ORT vs torch
      p.xy.forEach((v, j) => expect(v).toBeCloseTo(g.xy[j], 2));
    });
  });

  it('NMS drops a box overlapping a better one beyond IoU 0.45 and keeps a distant one', () => {
    const kept = nms(
      [
        { x1: 0, y1: 0, x2: 9, y2: 9, score: 0.5 },
        { x1: 1, y1: 0, x2: 10, y2: 9, score: 0.9 },
        { x1: 50, y1: 50, x2: 60, y2: 60, score: 0.4 },
      ],
      0.45,
    );
    expect(kept.map((b) => b.score)).toEqual([0.9, 0.4]);
  });
});

/** One person with every keypoint hidden except those given (OpenPose order, pixels). */
function person(points: Record<number, [number, number]>): Keypoints {
  const xy = new Float64Array(268).fill(-1);
  const score = new Float64Array(134);
  for (const [j, [x, y]] of Object.entries(points)) {
    xy[2 * Number(j)] = x;
    xy[2 * Number(j) + 1] = y;
    score[Number(j)] = 0.9;
  }
  return { xy, score };
}

describe('drawPose (OpenPose picture)', () => {
  const px = (rgb: Uint8Array, w: number, x: number, y: number) => Array.from(rgb.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));

  it('a limb in its colour dimmed to 60 %, joints in their colours on top, black elsewhere', () => {
    // neck (1) and right shoulder (2): util.py's limb [2, 3] (1-based), the first one, red
    const rgb = drawPose([person({ 1: [20, 20], 2: [40, 20] })], 64, 48);
    const limb = BODY_COLOURS[0].map((c) => Math.floor(c * 0.6));
    expect(px(rgb, 64, 30, 20)).toEqual(limb);
    expect(px(rgb, 64, 30, 23)).toEqual(limb); // stick half-width 4
    expect(px(rgb, 64, 30, 26)).toEqual([0, 0, 0]);
    expect(px(rgb, 64, 20, 20)).toEqual([...BODY_COLOURS[1]]);
    expect(px(rgb, 64, 40, 20)).toEqual([...BODY_COLOURS[2]]);
    expect(px(rgb, 64, 5, 40)).toEqual([0, 0, 0]);
  });

  it('hidden keypoints draw nothing; hands are hue-coloured bones with blue joints; face points white', () => {
    expect(drawPose([person({})], 32, 32).every((v) => v === 0)).toBe(true);
    // left hand: wrist 92, thumb joint 93 → bone 0 in hue 0 (red)
    const hand = drawPose([person({ 92: [10, 10], 93: [30, 10] })], 40, 20);
    expect(px(hand, 40, 20, 10)).toEqual([...hueColour(0)]);
    expect(px(hand, 40, 10, 10)).toEqual([0, 0, 255]);
    expect(hueColour(1 / 3)).toEqual([0, 255, 0]);
    const face = drawPose([person({ 30: [8, 8] })], 16, 16);
    expect(px(face, 16, 8, 8)).toEqual([255, 255, 255]);
    expect(px(face, 16, 8, 12)).toEqual([0, 0, 0]); // radius 3
  });
});

describe('installation check', () => {
  let empty: string;
  beforeAll(() => (empty = mkdtempSync(join(tmpdir(), 'atelier-annotators-'))));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));
  const image = { width: 8, height: 8, rgb: new Uint8Array(8 * 8 * 3) };

  it('a missing depth or pose annotator fails the request with how to install it', () => {
    const depthUnit = [{ model: cnPath('cn-named'), image, annotator: { kind: 'depth' as const } }];
    expect(() => checkControlNets(depthUnit, empty)).toThrow(PipelineInputError);
    expect(() => checkControlNets(depthUnit, empty)).toThrow(
      "The depth annotator is not installed: pull 'depth-anything-v2-small' from the Models view / `atelier models pull depth-anything-v2-small`",
    );
    expect(() => checkControlNets(depthUnit)).toThrow(/no annotators folder was given/);
    const poseUnit = [{ model: cnPath('cn-named'), image, annotator: { kind: 'pose' as const } }];
    expect(() => checkControlNets(poseUnit, empty)).toThrow(/The pose annotator is not installed: pull 'dwpose'/);
    expect(() => checkControlNets([{ model: cnPath('cn-named'), image, annotator: { kind: 'hed' } }] as never, DIR)).toThrow(/annotator.kind must be one of "canny", "depth", "pose"/);
  });

  it('installed: the files in MODEL_ANNOTATORS order; Canny needs none', () => {
    expect(annotatorFiles(DIR, 'pose')).toEqual([join(DIR, 'pose', 'yolox_l.onnx'), join(DIR, 'pose', 'dw-ll_ucoco_384.onnx')]);
    const [u] = checkControlNets([{ model: cnPath('cn-named'), image, annotator: { kind: 'depth' } }], DIR);
    expect(u.annotatorFiles).toEqual([join(DIR, 'depth', 'model.onnx')]);
    const [c] = checkControlNets([{ model: cnPath('cn-named'), image, annotator: { kind: 'canny' } }], empty);
    expect(c.annotatorFiles).toEqual([]);
  });
});

describe('txt2img with an annotator unit (ControlNet fixtures, Amuse layout)', () => {
  const base: Txt2ImgParams = { ...BASE_PARAMS, steps: 3 };
  const photo = { width: golden.depth.width, height: golden.depth.height, rgb: bytes('depth-input.rgb') };
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
  let fixture: { folder: string; cleanup(): void };
  let sd: LoadedModel;
  beforeAll(async () => {
    fixture = modelWithControlUnet('sd15-diffusers', 'unet-additional');
    sd = await loadModel(fixture.folder, { provider: 'cpu', threads: 1 });
  });
  afterAll(async () => {
    await releaseControlNets(sd);
    await sd.release();
    fixture.cleanup();
  });

  it.each(['depth', 'pose'] as const)('%s: the generation equals one conditioned on the annotated image given directly', async (kind) => {
    const unit = { model: cnPath('cn-named'), image: photo, annotator: { kind }, fit: 'resize' as const };
    const annotated = await txt2img(sd, { ...base, annotatorsDir: DIR, controlNets: [unit] });
    // What the annotator should have made: the photo fitted to 64 × 64, then annotated at that size.
    const fitted = fitPixels(photo.rgb, photo.width, photo.height, 3, 64, 64, 'resize');
    const control = kind === 'depth' ? await depthControlImage(depth, fitted, 64, 64) : await poseControlImage(detector, pose, fitted, 64, 64);
    const direct = await txt2img(sd, { ...base, controlNets: [{ model: cnPath('cn-named'), image: { width: 64, height: 64, rgb: control } }] });
    expect(same(annotated.images[0].rgb, direct.images[0].rgb)).toBe(true);
    // …and differs from conditioning on the raw photo.
    const raw = await txt2img(sd, { ...base, controlNets: [{ ...unit, annotator: undefined }] });
    expect(same(annotated.images[0].rgb, raw.images[0].rgb)).toBe(false);
  });

  it('annotator sessions are kept for the next generation; a low-memory model releases them after annotating', async () => {
    const file = join(DIR, 'depth', 'model.onnx');
    const unit = { model: cnPath('cn-named'), image: photo, annotator: { kind: 'depth' as const } };
    const kept = await annotatorSession(sd, file);
    await txt2img(sd, { ...base, annotatorsDir: DIR, controlNets: [unit] });
    expect(await annotatorSession(sd, file)).toBe(kept);
    const low = await loadModel(fixture.folder, { provider: 'cpu', threads: 1, lowMemory: true });
    try {
      const used = await annotatorSession(low, file);
      await txt2img(low, { ...base, annotatorsDir: DIR, controlNets: [unit] });
      await expect(used.run({})).rejects.toThrow(/was released/);
    } finally {
      await releaseControlNets(low);
      await low.release();
    }
  });

  it('without the annotator installed, the request fails before any step with the install hint', async () => {
    const steps: number[] = [];
    const run = txt2img(sd, { ...base, annotatorsDir: join(DIR, 'nowhere'), controlNets: [{ model: cnPath('cn-named'), image: photo, annotator: { kind: 'depth' } }] }, { onStep: (s) => steps.push(s.step) });
    await expect(run).rejects.toThrow(/The depth annotator is not installed: pull 'depth-anything-v2-small'/);
    expect(steps).toEqual([]);
  });
});
