import { afterAll, describe, expect, it } from 'vitest';
import { inspectModel } from '../../main/engine/model-info';
import { detectSignature, loadModel, type LoadedModel, type ModelSignature } from '../../main/engine/loader';
import type { TensorInfo } from '../../main/engine/ort-backend';
import { ModelLoadError } from '../../main/engine/model-errors';
import { listExecutionProviders, PROVIDER_PREFERENCE } from '../../main/engine/ort-backend';

const FIX = 'test/fixtures/models';

type Expect = Partial<Omit<ModelSignature, 'timestep' | 'io'>> & { timestep: ModelSignature['timestep']; external?: string };

const VARIANTS: Record<string, Expect> = {
  'sd15-diffusers': {
    family: 'sd1', inputIdsType: 'int32', timestep: { type: 'float32', rank: 1, length: 1 }, fp16: false,
    unetInChannels: 4, vaeEncoderOutput: 'latent_sample', hiddenSize: 32, predictionType: 'epsilon', external: 'weights.pb',
  },
  'sd15-optimum-old': {
    family: 'sd1', inputIdsType: 'int64', timestep: { type: 'int64', rank: 1, length: 1 }, fp16: false,
    unetInChannels: 4, vaeEncoderOutput: 'latent_sample', hiddenSize: 32, external: 'model.onnx_data',
  },
  'sd15-optimum-new': {
    family: 'sd1', inputIdsType: 'int64', timestep: { type: 'float32', rank: 0, length: 1 }, fp16: false,
    vaeEncoderOutput: 'latent_parameters', hiddenSize: 32,
  },
  'sd15-fp16': {
    family: 'sd1', inputIdsType: 'int32', timestep: { type: 'float16', rank: 1, length: 1 }, fp16: true,
    vaeEncoderOutput: 'latent_sample',
  },
  'sd2-v': {
    family: 'sd2-v', inputIdsType: 'int64', timestep: { type: 'int64', rank: 1, length: 1 }, hiddenSize: 48,
    predictionType: 'v_prediction', external: 'model.onnx_data',
  },
  'sd15-inpaint': { family: 'sd1', unetInChannels: 9, timestep: { type: 'int64', rank: 1, length: 1 } },
  'sd-turbo': {
    family: 'sd-turbo', timestep: { type: 'float32', rank: 0, length: 1 }, hiddenSize: 48, vaeEncoderOutput: 'latent_parameters',
  },
};

const opened: LoadedModel[] = [];
afterAll(async () => {
  for (const m of opened) await m.release();
});

describe('listExecutionProviders', () => {
  it('reports providers in preference order, cpu always last', () => {
    const names = listExecutionProviders().map((p) => p.name);
    expect(names[names.length - 1]).toBe('cpu');
    const idx = names.map((n) => PROVIDER_PREFERENCE.indexOf(n));
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
  });
});

describe('inspectModel', () => {
  it('reads index, configs, scheduler, tokenizer and external data without sessions', () => {
    const info = inspectModel(`${FIX}/sd15-optimum-old`);
    expect(info.pipelineClass).toBe('ORTStableDiffusionPipeline');
    expect(info.schedulerConfig._class_name).toBe('EulerDiscreteScheduler');
    expect(info.components.unet.externalData.map((e) => e.path.split('/').pop())).toEqual(['model.onnx_data']);
    expect(info.components.unet.config?.in_channels).toBe(4);
    expect(info.scalingFactor).toBe(0.18215);
    expect(info.padToken).toBe('<|endoftext|>');
    expect(inspectModel(`${FIX}/sd2-v`).padToken).toBe('!');
    expect(inspectModel(`${FIX}/sd15-diffusers`).components.vae_decoder.config).toBeUndefined();
  });
});

describe('loadModel: every fixture variant', () => {
  for (const [variant, exp] of Object.entries(VARIANTS)) {
    it(`${variant}: detects the signature from graph metadata`, async () => {
      const model = await loadModel(`${FIX}/${variant}`, { provider: 'cpu' });
      opened.push(model);
      const { external, ...want } = exp;
      expect(model.signature).toMatchObject(want);
      expect(model.signature.supported).toBe(true);
      expect(model.provider).toBe('cpu');
      expect(model.fallbacks).toEqual([]);
      expect(model.scalingFactor).toBe(0.18215);
      expect(model.hasComponent('vae_encoder')).toBe(true);
      if (external) expect(model.info.components.unet.externalData[0].path.endsWith(external)).toBe(true);
      const unet = await model.session('unet');
      expect(unet.inputs.map((i) => i.name)).toEqual(['sample', 'timestep', 'encoder_hidden_states']);
    });
  }

  it('records fp16 I/O per component', async () => {
    const model = await loadModel(`${FIX}/sd15-fp16`, { provider: 'cpu' });
    opened.push(model);
    expect(Object.values(model.signature.io).every((t) => t === 'float16')).toBe(true);
  });

  it('detects and loads SDXL (with text_encoder_2 and tokenizer_2) and LCM', async () => {
    const xl = await loadModel(`${FIX}/sdxl`, { provider: 'cpu' });
    opened.push(xl);
    expect(xl.signature).toMatchObject({ family: 'sdxl', supported: true, sdxlConditioning: true, hiddenStatesOutputs: 3 });
    expect(xl.signature.textEncoder2).toMatchObject({ hiddenStatesOutputs: 3, pooledSize: 32 });
    expect(xl.providers.text_encoder_2).toBe('cpu');
    expect(xl.tokenizer2?.padId).toBe(0);
    expect(xl.scalingFactor).toBe(0.13025);
    const lcm = await loadModel(`${FIX}/lcm`, { provider: 'cpu' });
    opened.push(lcm);
    expect(lcm.signature).toMatchObject({ family: 'lcm', supported: true, timeCondProjDim: 32, textEncoder2: null, sdxl: null });
  });

  it('auto provider falls back with a recorded reason per failed provider', async () => {
    const model = await loadModel(`${FIX}/sd15-optimum-new`, { provider: 'auto' });
    opened.push(model);
    const names = listExecutionProviders().map((p) => p.name);
    expect(names).toContain(model.provider);
    for (const f of model.fallbacks) {
      expect(names).toContain(f.provider);
      expect(f.reason.length).toBeGreaterThan(0);
      expect(['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']).toContain(f.component);
    }
  });

  it('low-memory mode holds no sessions between stages', async () => {
    const model = await loadModel(`${FIX}/sd15-diffusers`, { provider: 'cpu', lowMemory: true });
    opened.push(model);
    const s = await model.session('text_encoder');
    await model.finished('text_encoder');
    await expect(s.run({})).rejects.toThrow(/released/);
    const again = await model.session('text_encoder');
    expect(again).not.toBe(s);
  });

  it('release() frees sessions and later use fails clearly', async () => {
    const model = await loadModel(`${FIX}/sd15-diffusers`, { provider: 'cpu' });
    const unet = await model.session('unet');
    await model.release();
    await expect(unet.run({})).rejects.toThrow(/released/);
    await expect(model.session('unet')).rejects.toThrow(/released/);
  });
});

describe('detectSignature (synthetic metadata for real-size models)', () => {
  const t = (name: string, type: string, shape: Array<number | string>): TensorInfo => ({ name, type, shape });
  function meta(D: number, opts: { unetExtra?: TensorInfo[]; ts?: TensorInfo } = {}) {
    return {
      text_encoder: { inputs: [t('input_ids', 'int32', ['batch', 'sequence'])], outputs: [t('last_hidden_state', 'float32', ['batch', 'sequence', D]), t('pooler_output', 'float32', ['batch', D])] },
      unet: {
        inputs: [t('sample', 'float32', ['batch', 4, 'h', 'w']), opts.ts ?? t('timestep', 'float32', ['batch']), t('encoder_hidden_states', 'float32', ['batch', 'sequence', D]), ...(opts.unetExtra ?? [])],
        outputs: [t('out_sample', 'float32', ['batch', 4, 'h', 'w'])],
      },
      vae_decoder: { inputs: [t('latent_sample', 'float32', ['batch', 4, 'h', 'w'])], outputs: [t('sample', 'float32', ['batch', 3, 'H', 'W'])] },
    };
  }
  const base = inspectModel(`${FIX}/sd15-diffusers`);
  const withSched = (patch: Record<string, unknown>, pad = '<|endoftext|>') => ({ ...base, padToken: pad, components: { ...base.components, vae_encoder: undefined }, schedulerConfig: { ...base.schedulerConfig, ...patch } });

  it('768-d CLIP-L → sd1, 1024-d OpenCLIP-H → sd2, + v_prediction → sd2-v, + trailing → sd-turbo', () => {
    expect(detectSignature(withSched({}), meta(768)).family).toBe('sd1');
    expect(detectSignature(withSched({}), meta(1024)).family).toBe('sd2');
    expect(detectSignature(withSched({ prediction_type: 'v_prediction' }), meta(1024)).family).toBe('sd2-v');
    expect(detectSignature(withSched({ timestep_spacing: 'trailing' }), meta(1024)).family).toBe('sd-turbo');
    // trailing spacing alone on a CLIP-L model does not make it Turbo
    expect(detectSignature(withSched({ timestep_spacing: 'trailing' }), meta(768)).family).toBe('sd1');
    expect(detectSignature(withSched({}, '!'), meta(1024)).hiddenSize).toBe(1024);
  });

  it('SDXL conditioning inputs and LCM timestep_cond are detected from the UNet graph', () => {
    // SDXL UNet inputs without a text_encoder_2 cannot be conditioned: a clear load error
    const err = (() => {
      try {
        return detectSignature(withSched({}), meta(768, { unetExtra: [t('text_embeds', 'float32', ['batch', 1280]), t('time_ids', 'float32', ['batch', 6])] }));
      } catch (e) {
        return e as ModelLoadError;
      }
    })();
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as ModelLoadError).message).toMatch(/UNet takes SDXL conditioning \(text_embeds, time_ids\) but there is no text_encoder_2/);
    const lcm = detectSignature(withSched({}), meta(768, { unetExtra: [t('timestep_cond', 'float32', ['batch', 256])] }));
    expect(lcm).toMatchObject({ family: 'lcm', timeCondProjDim: 256, supported: true });
  });

  it('reads a static timestep length and scalar timesteps', () => {
    expect(detectSignature(withSched({}), meta(768, { ts: t('timestep', 'float16', [2]) })).timestep).toEqual({ type: 'float16', rank: 1, length: 2 });
    expect(detectSignature(withSched({}), meta(768, { ts: t('timestep', 'float32', []) })).timestep).toEqual({ type: 'float32', rank: 0, length: 1 });
  });
});
