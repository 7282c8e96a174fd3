/** The `doctorModel` API method, through the real dispatcher and IPC bridge (the model doctor reads headers only). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierApiError } from '../../common/api/contract';
import { createHarness, type Harness } from './transports';

describe('doctorModel over IPC', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('ipc');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('checks the bundled demo model at its own size', async () => {
    const r = await h.client.doctorModel({ modelId: 'atelier-demo', provider: 'cpu' });
    expect(r.target).toBe('atelier-demo');
    expect([r.provider, r.width, r.height]).toEqual(['cpu', 64, 64]);
    expect(r.verdict).toEqual({ level: 'ok', text: 'will run on CPU' });
    // controlnet: the demo's ControlNet-capable UNet (Amuse layout), a graph the doctor checks too.
    expect(r.graphs.map((g) => g.component)).toEqual(['text_encoder', 'unet', 'vae_decoder', 'vae_encoder', 'controlnet']);
    expect(r.graphs.every((g) => g.precision === 'fp32')).toBe(true);
  });

  it('for another provider and size', async () => {
    const r = await h.client.doctorModel({ modelId: 'atelier-demo', provider: 'coreml', width: 512, height: 768 });
    expect([r.provider, r.width, r.height, r.providerAvailable]).toEqual(['coreml', 512, 768, false]);
    expect(r.providerSettings).toMatch(/coreMlFlags 0x010 \(MLProgram\)/);
  });

  it('validates the request', async () => {
    const err = await h.client.doctorModel({ modelId: 'atelier-demo', width: 513 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtelierApiError);
    expect((err as AtelierApiError).code).toBe('invalid_request');
    const missing = await h.client.doctorModel({ modelId: 'nope' }).catch((e: unknown) => e);
    expect((missing as AtelierApiError).code).toBe('not_found');
  });
});
