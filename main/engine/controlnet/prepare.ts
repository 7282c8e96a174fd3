/**
 * From `params.controlNets` to a ready ControlNetStack: check every unit before any session runs
 * (including that a depth / pose annotator is installed), open the sessions, fit each control image to
 * the output size (the same fit as the init image, so structure and photo line up), run the annotator
 * and convert the result to the 0..1 NCHW the graphs take.
 */
import { CONTROL_ANNOTATOR_KINDS } from '../../../common/params/controlnet';
import { fitPixels } from '../image-ops';
import type { LoadedModel } from '../loader';
import type { EngineSession } from '../ort-backend';
import { bad, checkFit, checkImage } from '../pipeline/check';
import type { ControlNetUnit, ImageFit } from '../pipeline/types';
import { depthControlImage } from './annotators/depth';
import { annotatorFiles, isModelAnnotator } from './annotators/installed';
import { poseControlImage } from './annotators/pose';
import { cannyControlImage } from './canny';
import { rgbToUnitNchw } from './residuals';
import { unetResidualSlots } from './graph-io';
import { ControlNetStack, type ControlUnitSpec } from './runner';
import { annotatorSession, controlNetPath, controlNetSession, controlUnetSession, releaseAnnotators } from './sessions';

/** A1111's "Control Weight" slider range. */
export const MAX_CONTROL_WEIGHT = 2;
/** More units than this is almost certainly a mistake (each one runs a full ControlNet per step). */
export const MAX_CONTROL_UNITS = 4;

export interface CheckedUnit {
  model: string;
  weight: number;
  start: number;
  end: number;
  annotator: ControlNetUnit['annotator'] | undefined;
  /** The annotator's installed model files (depth: model.onnx; pose: detector, pose model); [] for Canny or none. */
  annotatorFiles: string[];
  fit: ImageFit;
  image: ControlNetUnit['image'];
}

function fraction(v: unknown, fallback: number, what: string): number {
  const x = v ?? fallback;
  if (typeof x !== 'number' || !(x >= 0 && x <= 1)) bad(`${what} must be a fraction of the steps from 0 to 1 (got ${String(v)}).`);
  return x;
}

/** Validate a unit's annotator; returns the model files it needs (checked to exist). */
function checkAnnotator(a: ControlNetUnit['annotator'], at: string, annotatorsDir: string | undefined): string[] {
  if (a === undefined) return [];
  const kinds = CONTROL_ANNOTATOR_KINDS.map((k) => `"${k}"`).join(', ');
  if (!a || typeof a !== 'object' || !(CONTROL_ANNOTATOR_KINDS as readonly string[]).includes(a.kind)) {
    bad(`${at}.annotator.kind must be one of ${kinds} (got ${JSON.stringify(a && a.kind)}).`);
  }
  for (const key of ['low', 'high'] as const) {
    const v = a[key];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1020))) bad(`${at}.annotator.${key} must be a threshold from 0 to 1020 (got ${String(v)}).`);
  }
  return isModelAnnotator(a.kind) ? annotatorFiles(annotatorsDir, a.kind) : [];
}

/**
 * Validate `controlNets` (PipelineInputError naming the unit and field); [] when absent.
 * @param annotatorsDir `<modelsDir>/annotators`, where depth and pose annotators are installed
 */
export function checkControlNets(units: unknown, annotatorsDir?: string): CheckedUnit[] {
  if (units === undefined) return [];
  if (!Array.isArray(units)) bad('controlNets must be a list of { model, image, weight?, start?, end? }.');
  if (units.length > MAX_CONTROL_UNITS) bad(`at most ${MAX_CONTROL_UNITS} ControlNets at once (got ${units.length}).`);
  return units.map((u: ControlNetUnit, k) => {
    const at = `controlNets[${k}]`;
    if (!u || typeof u !== 'object') bad(`${at} must be an object { model, image, weight?, start?, end? }.`);
    if (typeof u.model !== 'string' || !u.model) bad(`${at}.model must be the path of a ControlNet model.onnx (or its folder).`);
    checkImage(u.image, `${at}.image`);
    const weight = u.weight ?? 1;
    if (typeof weight !== 'number' || !(weight >= 0 && weight <= MAX_CONTROL_WEIGHT)) bad(`${at}.weight must be a number from 0 to ${MAX_CONTROL_WEIGHT} (got ${String(u.weight)}).`);
    const start = fraction(u.start, 0, `${at}.start`);
    const end = fraction(u.end, 1, `${at}.end`);
    // diffusers refuses start ≥ end: the unit would never run.
    if (start >= end) bad(`${at}.start (${start}) must be below ${at}.end (${end}); otherwise the ControlNet never runs.`);
    const files = checkAnnotator(u.annotator, at, annotatorsDir);
    // The file is checked here too, so a wrong path fails before the prompt is encoded.
    return { model: controlNetPath(u.model), weight, start, end, annotator: u.annotator, annotatorFiles: files, fit: checkFit(u.fit), image: u.image };
  });
}

/** Opens an annotator's model file (on the model's provider in the pipeline). */
export type OpenAnnotator = (path: string) => Promise<EngineSession>;

/** The annotated control image (interleaved RGB) of fitted pixels at the output size. */
async function annotate(unit: Pick<CheckedUnit, 'annotator' | 'annotatorFiles'>, pixels: Uint8Array, width: number, height: number, open?: OpenAnnotator): Promise<Uint8Array> {
  const a = unit.annotator;
  if (!a) return pixels;
  if (a.kind === 'canny') return cannyControlImage(pixels, width, height, { low: a.low, high: a.high });
  if (!open) throw new Error(`The ${a.kind} annotator needs its ONNX session; none was provided.`);
  const sessions = await Promise.all(unit.annotatorFiles.map((f) => open(f)));
  if (a.kind === 'depth') return depthControlImage(sessions[0], pixels, width, height);
  return poseControlImage(sessions[0], sessions[1], pixels, width, height);
}

/**
 * The control image at width × height as NCHW [1, 3, H, W] in 0..1 (annotated first when asked).
 * Annotation runs at the output size, after the fit (as A1111 does at its processor resolution), so
 * Canny edges stay one pixel wide and depth / pose line up with the fitted photo.
 */
export async function controlImageTensor(
  unit: Pick<CheckedUnit, 'image' | 'annotator' | 'fit'> & Partial<Pick<CheckedUnit, 'annotatorFiles'>>,
  width: number,
  height: number,
  open?: OpenAnnotator,
): Promise<Float32Array> {
  const img = unit.image;
  const pixels = fitPixels(img.rgb, img.width, img.height, 3, width, height, unit.fit);
  const annotated = await annotate({ annotator: unit.annotator, annotatorFiles: unit.annotatorFiles ?? [] }, pixels, width, height, open);
  return rgbToUnitNchw(annotated, width, height);
}

/**
 * Sessions + images for the checked units; null without units (the plain UNet path stays untouched).
 * Called after the input checks, before the denoising loop.
 */
export async function prepareControlNets(
  model: LoadedModel,
  units: readonly CheckedUnit[],
  geometry: { width: number; height: number; batch: number; doCfg: boolean },
): Promise<ControlNetStack | null> {
  const { width, height, batch, doCfg } = geometry;
  if (units.length === 0) {
    // A UNet exported with residual inputs needs them even without a ControlNet: zeros (no unit runs).
    const own = model.graphs.unet;
    if (!own || !unetResidualSlots({ inputs: own.inputs, modelPath: model.info.components.unet.model })) return null;
    return new ControlNetStack(await model.session('unet'), [], batch, doCfg, height / 8, width / 8, true);
  }
  const { session: unet, own } = await controlUnetSession(model);
  const channels = unet.inputs.find((i) => i.name === 'sample')?.shape[1];
  if (typeof channels === 'number' && channels !== model.signature.unetInChannels) {
    bad(`The ControlNet UNet ${unet.modelPath} takes ${channels}-channel latents but this model's UNet takes ${model.signature.unetInChannels}; they do not belong together.`);
  }
  const specs: ControlUnitSpec[] = [];
  const open: OpenAnnotator = (path) => annotatorSession(model, path);
  for (const u of units) {
    specs.push({
      session: await controlNetSession(model, u.model),
      image: await controlImageTensor(u, width, height, open),
      weight: u.weight,
      start: u.start,
      end: u.end,
    });
  }
  // Annotators run once per generation; a low-memory model does not keep them beside the UNet.
  if (model.lowMemory) await releaseAnnotators(model);
  return new ControlNetStack(unet, specs, batch, doCfg, height / 8, width / 8, own);
}
