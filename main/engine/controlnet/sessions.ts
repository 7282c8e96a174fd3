/**
 * Sessions a ControlNet generation needs beyond the model's own:
 *  - the ControlNet graph(s), each a separate model file (TensorStack/ControlNet-amuse
 *    `StableDiffusion/Canny/model.onnx`, axodox `controlnet/*.onnx`);
 *  - a UNet that takes the residuals. Either the model's `unet/` already does (onnx-web/Amblyopius
 *    exports) or the model ships one beside it in `controlnet/model.onnx` (Amuse/OnnxStack layout,
 *    OnnxStack `ModelFactory.cs`). A plain UNet cannot use ControlNet at all: say so.
 * Sessions are created with the same provider as the model's UNet and kept per model (a ControlNet is
 * usually reused for several generations); `releaseControlNets(model)` frees them, and low-memory
 * models release them after every denoise loop like their own stages.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedModel } from '../loader';
import { createSession, parseProviderChoice, type EngineSession } from '../ort-backend';
import { PipelineInputError } from '../pipeline/types';
import { unetResidualSlots } from './graph-io';

/** Where Amuse/OnnxStack keep the ControlNet-capable UNet inside a base model folder. */
export const CONTROL_UNET_DIR = 'controlnet';

interface ModelSessions {
  controlNets: Map<string, Promise<EngineSession>>;
  /** Annotator graphs (depth, pose detector and pose model) by path; see controlnet/annotators/. */
  annotators: Map<string, Promise<EngineSession>>;
  controlUnet: Promise<EngineSession> | null;
}

const perModel = new WeakMap<LoadedModel, ModelSessions>();

function sessionsOf(model: LoadedModel): ModelSessions {
  let s = perModel.get(model);
  if (!s) perModel.set(model, (s = { controlNets: new Map(), annotators: new Map(), controlUnet: null }));
  return s;
}

/** A ControlNet given as a folder means its `model.onnx`. */
export function controlNetPath(model: string): string {
  if (typeof model !== 'string' || model.length === 0) throw new PipelineInputError('controlNets[].model must be the path of a ControlNet model.onnx (or its folder).');
  const path = existsSync(model) && statSync(model).isDirectory() ? join(model, 'model.onnx') : model;
  if (!existsSync(path) || !statSync(path).isFile()) throw new PipelineInputError(`ControlNet model not found: ${path}.`);
  return path;
}

function open(model: LoadedModel, path: string): Promise<EngineSession> {
  // The UNet's provider: ControlNet runs once per UNet call on the same tensors, so it belongs on the same device.
  const provider = parseProviderChoice(model.provider);
  return createSession(path, { provider, lowMemory: model.lowMemory, ...(model.deviceId !== undefined ? { deviceId: model.deviceId } : {}) });
}

function cached(model: LoadedModel, cache: Map<string, Promise<EngineSession>>, path: string): Promise<EngineSession> {
  let s = cache.get(path);
  if (!s) {
    s = open(model, path);
    s.catch(() => cache.delete(path));
    cache.set(path, s);
  }
  return s;
}

/** Session of a ControlNet graph for this model (created once, kept until released). */
export function controlNetSession(model: LoadedModel, modelPath: string): Promise<EngineSession> {
  return cached(model, sessionsOf(model).controlNets, controlNetPath(modelPath));
}

/**
 * Session of an annotator graph (an installed file, checked by annotators/installed.ts), on the model's
 * provider: the annotator runs once per generation on the photo, before the first step.
 */
export function annotatorSession(model: LoadedModel, path: string): Promise<EngineSession> {
  return cached(model, sessionsOf(model).annotators, path);
}

/** Release the annotator sessions kept for a model (low-memory models, right after annotating). */
export async function releaseAnnotators(model: LoadedModel): Promise<void> {
  const entry = perModel.get(model);
  if (!entry) return;
  const all = [...entry.annotators.values()];
  entry.annotators.clear();
  for (const p of all) {
    const s = await p.catch(() => null);
    await s?.release().catch(() => undefined);
  }
}

/**
 * The UNet to run with ControlNet residuals: the model's own when it takes them, else the model's
 * `controlnet/model.onnx`. The error says what kind of model is needed.
 */
export async function controlUnetSession(model: LoadedModel): Promise<{ session: EngineSession; own: boolean }> {
  // Decide from the metadata read at load: in low-memory mode the plain UNet is not opened just to look.
  const own = model.graphs.unet;
  if (own && unetResidualSlots({ inputs: own.inputs, modelPath: model.info.components.unet.model })) return { session: await model.session('unet'), own: true };
  const entry = sessionsOf(model);
  if (!entry.controlUnet) {
    const path = join(model.folder, CONTROL_UNET_DIR, 'model.onnx');
    if (!existsSync(path)) {
      throw new PipelineInputError(
        `This model's UNet takes no ControlNet residuals and the model has no ${CONTROL_UNET_DIR}/model.onnx. ControlNet needs a ControlNet-capable ` +
          `UNet: install one into this model's folder (the catalog's "ControlNet UNet for …" entries do), use a model that ships one ` +
          `(e.g. the TensorStack *-amuse models' ${CONTROL_UNET_DIR}/ folder) or an export whose UNet takes ` +
          `down_block_{i}_additional_residual / mid_block_additional_residual inputs.`,
      );
    }
    entry.controlUnet = open(model, path);
    entry.controlUnet.catch(() => (entry.controlUnet = null));
  }
  const session = await entry.controlUnet;
  if (!unetResidualSlots(session)) {
    throw new PipelineInputError(`${session.modelPath} takes no ControlNet residual inputs (inputs: ${session.inputs.map((i) => i.name).join(', ')}).`);
  }
  return { session, own: false };
}

/** Release the ControlNet and annotator sessions (and the separate ControlNet UNet) kept for a model. */
export async function releaseControlNets(model: LoadedModel): Promise<void> {
  const entry = perModel.get(model);
  if (!entry) return;
  perModel.delete(model);
  const all = [...entry.controlNets.values(), ...entry.annotators.values(), ...(entry.controlUnet ? [entry.controlUnet] : [])];
  for (const p of all) {
    const s = await p.catch(() => null);
    await s?.release().catch(() => undefined);
  }
}
