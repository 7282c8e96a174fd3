/**
 * Whether a model folder can run ControlNet at all, told from its files without an ORT session, so
 * listModels can say so before the user queues a job that would fail (controlUnetSession's error).
 *
 * The same two ways as controlUnetSession: the model's own `unet/model.onnx` takes ControlNet residual
 * inputs (onnx-web / Amblyopius exports), or the folder ships a ControlNet-capable UNet as
 * `controlnet/model.onnx` (Amuse / OnnxStack layout). Graph inputs are read with the protobuf header
 * reader, which steps over weights (a few MB of reads for a multi-GB UNet).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readOnnxFile } from '../doctor/onnx-proto';
import { isResidualInputName } from './graph-io';
import { CONTROL_UNET_DIR } from './sessions';

function takesResiduals(graph: string): boolean {
  return readOnnxFile(graph).inputs.some((i) => isResidualInputName(i.name));
}

/**
 * true: ControlNet units can run on this folder; false: neither UNet takes residuals (a job with
 * ControlNet units would fail); undefined: the graphs could not be read, so nothing is claimed.
 */
export function controlNetCapability(folder: string): boolean | undefined {
  try {
    const own = join(folder, 'unet', 'model.onnx');
    if (existsSync(own) && takesResiduals(own)) return true;
    const control = join(folder, CONTROL_UNET_DIR, 'model.onnx');
    if (existsSync(control)) return takesResiduals(control);
    return existsSync(own) ? false : undefined;
  } catch {
    return undefined;
  }
}
