/**
 * Issue 21: a model without a ControlNet-capable UNet (ModelSummary.controlNetCapable === false) is
 * named before anything is queued — the warning text (renderer/lib/controlnet-support.ts), and the
 * store's Generate refusing a request that carries ControlNet units. Unknown (flag absent) never
 * warns, and the same model without units generates as before.
 */
import { describe, expect, it } from 'vitest';
import type { ControlNetSummary, ModelSummary } from '../../common/api/contract';
import { controlGenerateRefusal, controlNetUnsupported } from '../../renderer/lib/controlnet-support';
import { memoryStorage } from '../../renderer/lib/workspace-memory';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient, record } from './fake-client';

const model = (over: Partial<ModelSummary> = {}): ModelSummary => ({ id: 'plain', name: 'Plain SD', family: 'sd1', source: 'installed', sizeBytes: 1e6, ...over });

describe('controlNetUnsupported', () => {
  it('names the model and what to do when it has no ControlNet-capable UNet', () => {
    const why = controlNetUnsupported(model({ controlNetCapable: false }));
    expect(why).toMatch(/^Plain SD has no ControlNet-capable UNet: /);
    expect(why).toContain('controlnet/model.onnx');
    expect(why).toContain('Choose a model that ships one');
  });

  it('says nothing for a capable model, an unknown capability or no model', () => {
    expect(controlNetUnsupported(model({ controlNetCapable: true }))).toBeNull();
    expect(controlNetUnsupported(model())).toBeNull();
    expect(controlNetUnsupported(undefined)).toBeNull();
  });

  it('Generate refuses only when the request carries ControlNet units', () => {
    const plain = model({ controlNetCapable: false });
    expect(controlGenerateRefusal(plain, 0)).toBeNull();
    expect(controlGenerateRefusal(plain, 2)).toBe(controlNetUnsupported(plain));
    expect(controlGenerateRefusal(model(), 2)).toBeNull();
  });
});

const nets: ControlNetSummary[] = [{ name: 'edges-sd1', hash: 'ab'.repeat(32), baseFamily: 'sd1', controlType: 'canny', suggestedAnnotator: 'canny', sizeBytes: 10 }];

async function ready(models: ModelSummary[]) {
  const src = record({ id: 'src' });
  const fake = createFakeClient({ history: [src] });
  fake.client.listModels = async () => models;
  fake.client.listControlNets = async () => nets;
  const store = createAtelierStore(fake.client, { workspaceStorage: memoryStorage() });
  await store.getState().init();
  await store.getState().refreshControlNets();
  await new Promise((r) => setTimeout(r, 0)); // history loads in the background
  const s = () => store.getState();
  s().setParams({ prompt: 'a vase' });
  return { fake, s, src };
}

describe('Generate with ControlNet units on a model without a ControlNet-capable UNet', () => {
  const models = [model({ controlNetCapable: false }), model({ id: 'unknown', name: 'Unknown SD' }), model({ id: 'able', name: 'Able SD', controlNetCapable: true })];

  it('refuses before queueing and says why; without units the same model generates', async () => {
    const { fake, s, src } = await ready(models);
    s().setParams({ modelId: 'plain' });
    const key = s().addControlUnit()!;
    s().useGenerationForControl(key, src);
    expect(await s().generate()).toBeNull();
    expect(fake.callsTo('generate')).toHaveLength(0);
    expect(s().toasts.at(-1)).toMatchObject({ kind: 'error', title: 'ControlNet not available' });
    expect(s().toasts.at(-1)!.message).toContain('Plain SD has no ControlNet-capable UNet');
    // A switched-off unit is not sent: nothing to refuse.
    s().updateControlUnit(key, { enabled: false });
    expect(await s().generate()).not.toBeNull();
    expect(fake.callsTo('generate')).toHaveLength(1);
  });

  it.each(['unknown', 'able'])('queues the units on a model whose capability is %s', async (modelId) => {
    const { fake, s, src } = await ready(models);
    s().setParams({ modelId });
    s().useGenerationForControl(s().addControlUnit()!, src);
    expect(await s().generate()).not.toBeNull();
    expect(fake.callsTo('generate')[0]).toMatchObject({ modelId, controlNets: [{ model: 'edges-sd1' }] });
  });
});
