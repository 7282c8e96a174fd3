/**
 * The exported fixture models (test/fixtures/models) as engine tests use them: loaded once per file
 * on the CPU, a shared set of generation parameters, and a spy on what the pipeline feeds a session.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { loadModel, type LoadedModel } from '../../main/engine/loader';
import type { ComponentName } from '../../main/engine/model-info';
import type { EngineSession, EngineTensor } from '../../main/engine/ort-backend';
import { PipelineInputError, type Txt2ImgParams } from '../../main/engine/pipeline';

export const FIX = 'test/fixtures/models';

/** Every SD 1.x/2.x exporter layout (diffusers, old/new optimum, fp16, v-prediction, 9-channel inpainting, Turbo). */
export const SD_VARIANTS = ['sd15-diffusers', 'sd15-optimum-old', 'sd15-optimum-new', 'sd15-fp16', 'sd2-v', 'sd15-inpaint', 'sd-turbo'];

/** Short enough for the tiny fixtures to run in milliseconds; with a negative prompt so CFG does work. */
export const BASE_PARAMS: Txt2ImgParams = {
  prompt: 'a photo of a cat, highly detailed',
  negativePrompt: 'blurry, low quality',
  width: 64,
  height: 64,
  steps: 3,
  guidanceScale: 7.5,
  seed: 42,
  rng: 'cpu',
};

/**
 * Loads the named fixtures before the file's tests (CPU, one thread, so results do not depend on the
 * machine's core count) and releases them after. The map fills in beforeAll: read it inside tests.
 */
export function useFixtureModels(variants: readonly string[]): Map<string, LoadedModel> {
  const models = new Map<string, LoadedModel>();
  beforeAll(async () => {
    for (const v of variants) models.set(v, await loadModel(`${FIX}/${v}`, { provider: 'cpu', threads: 1 }));
  });
  afterAll(async () => {
    for (const m of models.values()) await m.release();
  });
  return models;
}

export interface SessionSpy {
  /** Every feed the pipeline sent to the component, in order. */
  feeds: Record<string, EngineTensor>[];
  /** What the real session returned for each feed. */
  outputs: Record<string, EngineTensor>[];
  restore(): void;
}

/**
 * Records every feed the pipeline sends to `component` while the real session still runs.
 * `patchInputs` rewrites the graph metadata the pipeline sees (to exercise another export's inputs).
 */
export function spySession(model: LoadedModel, component: ComponentName, patchInputs?: (s: EngineSession) => EngineSession['inputs']): SessionSpy {
  const feeds: Record<string, EngineTensor>[] = [];
  const outputs: Record<string, EngineTensor>[] = [];
  const original = model.session.bind(model);
  (model as { session: LoadedModel['session'] }).session = async (name) => {
    const s = await original(name);
    if (name !== component) return s;
    const proxy: EngineSession = Object.create(s);
    proxy.run = async (f) => {
      feeds.push(f);
      const out = await s.run(f);
      outputs.push(out);
      return out;
    };
    if (patchInputs) Object.defineProperty(proxy, 'inputs', { value: patchInputs(s) });
    return proxy;
  };
  return { feeds, outputs, restore: () => ((model as { session: LoadedModel['session'] }).session = original) };
}

/** The message of the PipelineInputError `fn` throws (fails the test when it throws another error or none). */
export function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PipelineInputError);
    return (e as Error).message;
  }
  throw new Error('expected a PipelineInputError, got none');
}
