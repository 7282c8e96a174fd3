/**
 * From `params.controlNets` to a ready ControlNetStack: check every unit before any session runs,
 * open the sessions, run the annotator, fit each control image to the output size (the same fit as
 * the init image, so structure and photo line up) and convert it to the 0..1 NCHW the graphs take.
 */
import { fitPixels } from '../image-ops';
import type { LoadedModel } from '../loader';
import { bad, checkFit, checkImage } from '../pipeline/check';
import type { ControlNetUnit, ImageFit } from '../pipeline/types';
import { cannyControlImage } from './canny';
import { rgbToUnitNchw } from './residuals';
import { unetResidualSlots } from './graph-io';
import { ControlNetStack, type ControlUnitSpec } from './runner';
import { controlNetPath, controlNetSession, controlUnetSession } from './sessions';

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
  fit: ImageFit;
  image: ControlNetUnit['image'];
}

function fraction(v: unknown, fallback: number, what: string): number {
  const x = v ?? fallback;
  if (typeof x !== 'number' || !(x >= 0 && x <= 1)) bad(`${what} must be a fraction of the steps from 0 to 1 (got ${String(v)}).`);
  return x;
}

/** Validate `controlNets` (PipelineInputError naming the unit and field); [] when absent. */
export function checkControlNets(units: unknown): CheckedUnit[] {
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
    const a = u.annotator;
    if (a !== undefined) {
      if (!a || a.kind !== 'canny') bad(`${at}.annotator.kind must be "canny" (got ${JSON.stringify(a && a.kind)}).`);
      for (const key of ['low', 'high'] as const) {
        const v = a[key];
        if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1020))) bad(`${at}.annotator.${key} must be a threshold from 0 to 1020 (got ${String(v)}).`);
      }
    }
    // The file is checked here too, so a wrong path fails before the prompt is encoded.
    return { model: controlNetPath(u.model), weight, start, end, annotator: a, fit: checkFit(u.fit), image: u.image };
  });
}

/** The control image at width × height as NCHW [1, 3, H, W] in 0..1 (annotated first when asked). */
export function controlImageTensor(unit: Pick<CheckedUnit, 'image' | 'annotator' | 'fit'>, width: number, height: number): Float32Array {
  const img = unit.image;
  let pixels = fitPixels(img.rgb, img.width, img.height, 3, width, height, unit.fit);
  // Annotate at the output size (as A1111 does at its processor resolution), so edges stay one pixel wide.
  if (unit.annotator?.kind === 'canny') pixels = cannyControlImage(pixels, width, height, { low: unit.annotator.low, high: unit.annotator.high });
  return rgbToUnitNchw(pixels, width, height);
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
  for (const u of units) {
    specs.push({
      session: await controlNetSession(model, u.model),
      image: controlImageTensor(u, width, height),
      weight: u.weight,
      start: u.start,
      end: u.end,
    });
  }
  return new ControlNetStack(unet, specs, batch, doCfg, height / 8, width / 8, own);
}
