/**
 * Issue 21: listModels says whether a model can run ControlNet at all (ModelSummary.controlNetCapable),
 * read from real ONNX files without a session, so the studio can refuse before a job fails.
 * The bundled demo ships controlnet/model.onnx → true; a copy of it without controlnet/ → false; a
 * copy whose own UNet takes the residuals (the unet-additional fixture, made by
 * models/tools/make_controlnet_fixtures.py) → true; a folder whose graphs do not parse → no claim.
 * Adding controlnet/ to an installed model changes the next list (the cache is keyed by the graphs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelRegistry } from '../../main/app/model-registry';
import { ModelManager } from '../../main/models/manager';
import { removeDir, tempDir } from '../models/helpers/fixtures';

const DEMO = path.join(process.cwd(), 'models', 'demo');
const RESIDUAL_UNET = path.join(process.cwd(), 'test', 'fixtures', 'controlnet', 'unet-additional', 'model.onnx');
/** What a loadable copy of the demo needs (parity data, notes and controlnet/ stay behind). */
const DEMO_PARTS = ['model_index.json', 'scheduler', 'text_encoder', 'tokenizer', 'unet', 'vae_decoder', 'vae_encoder'];

let root: string;
let modelsDir: string;
let registry: ModelRegistry;

async function copyDemoWithoutControlNet(to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const part of DEMO_PARTS) await cp(path.join(DEMO, part), path.join(to, part), { recursive: true });
}

async function capableById(): Promise<Record<string, boolean | undefined>> {
  return Object.fromEntries((await registry.list()).map((m) => [m.id, m.controlNetCapable]));
}

beforeAll(async () => {
  root = await tempDir('atelier-cn-capable-');
  modelsDir = path.join(root, 'models');
  await copyDemoWithoutControlNet(path.join(modelsDir, 'demo-plain'));
  await copyDemoWithoutControlNet(path.join(modelsDir, 'own-residuals'));
  await copyFile(RESIDUAL_UNET, path.join(modelsDir, 'own-residuals', 'unet', 'model.onnx'));
  await copyDemoWithoutControlNet(path.join(modelsDir, 'garbled'));
  await writeFile(path.join(modelsDir, 'garbled', 'unet', 'model.onnx'), Buffer.from('not a protobuf graph at all'));
  // The demo's plain UNet put where a ControlNet-capable one belongs.
  await copyDemoWithoutControlNet(path.join(modelsDir, 'plain-control'));
  await mkdir(path.join(modelsDir, 'plain-control', 'controlnet'));
  await copyFile(path.join(DEMO, 'unet', 'model.onnx'), path.join(modelsDir, 'plain-control', 'controlnet', 'model.onnx'));
  registry = new ModelRegistry(new ModelManager({ modelsDir, demoModelDir: DEMO }));
});

afterAll(async () => {
  await removeDir(root);
});

describe('listModels: controlNetCapable', () => {
  it('true for the demo (controlnet/model.onnx) and a UNet with residual inputs, false for a plain UNet', async () => {
    const capable = await capableById();
    expect(capable['atelier-demo']).toBe(true);
    expect(capable['demo-plain']).toBe(false);
    expect(capable['own-residuals']).toBe(true);
  });

  it('claims nothing (field absent) when the UNet graph cannot be read', async () => {
    const garbled = (await registry.list()).find((m) => m.id === 'garbled');
    expect(garbled).toBeDefined();
    expect(garbled).not.toHaveProperty('controlNetCapable');
  });

  it('a ControlNet UNet added to an installed model counts on the next list', async () => {
    const plain = path.join(modelsDir, 'demo-plain');
    expect((await capableById())['demo-plain']).toBe(false);
    await mkdir(path.join(plain, 'controlnet'));
    await copyFile(path.join(DEMO, 'controlnet', 'model.onnx'), path.join(plain, 'controlnet', 'model.onnx'));
    expect((await capableById())['demo-plain']).toBe(true);
  });

  it('a controlnet/model.onnx that takes no residuals does not count (the job would refuse it)', async () => {
    expect((await capableById())['plain-control']).toBe(false);
  });
});
