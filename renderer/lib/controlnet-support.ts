/**
 * Whether the chosen model can run ControlNet at all (ModelSummary.controlNetCapable, read by the
 * backend from the model's graphs). A model without a ControlNet-capable UNet would fail the job
 * after it was queued; the studio says so beside the ControlNet controls and refuses before queueing.
 * Unknown (the flag absent, e.g. an older backend or unreadable graphs) never warns: the job's own
 * check still applies.
 */
import type { ModelSummary } from '../../common/api/contract';

type ModelCapability = Pick<ModelSummary, 'name' | 'controlNetCapable'>;

/** Why ControlNet cannot run on `model`, saying what to do; null when it can or when that is unknown. */
export function controlNetUnsupported(model: ModelCapability | undefined): string | null {
  if (!model || model.controlNetCapable !== false) return null;
  return (
    `${model.name} has no ControlNet-capable UNet: its UNet takes no ControlNet residuals and it has no controlnet/model.onnx. ` +
    'Choose a model that ships one (e.g. a TensorStack *-amuse build with its controlnet/ folder, or an export whose UNet takes ' +
    'down_block_{i}_additional_residual inputs), or install the model\'s "ControlNet UNet for …" entry from the Models view\'s catalog.'
  );
}

/** Generate's refusal: only when the request would carry ControlNet units (`controlUnitsSent` of them). */
export function controlGenerateRefusal(model: ModelCapability | undefined, controlUnitsSent: number): string | null {
  return controlUnitsSent > 0 ? controlNetUnsupported(model) : null;
}
