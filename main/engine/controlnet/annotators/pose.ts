/**
 * Pose annotator: DWPose (yzd-v/DWPose). YOLOX finds the people, the whole-body model places 133
 * keypoints per person, and the OpenPose picture is drawn on black (body, hands and face), as the
 * ControlNet extension's `dw_openpose_full` preprocessor does. With no person found, DWPose estimates one
 * pose over the whole picture; its low-scoring keypoints then draw nothing.
 */
import type { EngineSession } from '../../ort-backend';
import { estimatePose, type Keypoints } from './dwpose';
import { drawPose } from './pose-draw';
import { detectPeople, type PersonBox } from './yolox';

/** Whole-body keypoints (OpenPose order, image pixels) of every person in an interleaved RGB picture. */
export async function poseKeypoints(detector: EngineSession, pose: EngineSession, rgb: Uint8Array, width: number, height: number): Promise<Keypoints[]> {
  const found = await detectPeople(detector, rgb, width, height);
  const boxes: PersonBox[] = found.length > 0 ? found : [{ x1: 0, y1: 0, x2: width, y2: height, score: 0 }];
  const people: Keypoints[] = [];
  for (const box of boxes) people.push(await estimatePose(pose, rgb, width, height, box));
  return people;
}

/** The OpenPose control image (interleaved RGB, width × height) of an interleaved RGB photo of the same size. */
export async function poseControlImage(detector: EngineSession, pose: EngineSession, rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  return drawPose(await poseKeypoints(detector, pose, rgb, width, height), width, height);
}
