/** Picking an imported model applies its recommended settings, as picking a catalog model does. */
import { describe, expect, it } from 'vitest';
import type { ModelSummary } from '../../common/api/contract';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient } from './fake-client';

const turbo: ModelSummary = {
  id: 'my-turbo', name: 'my-turbo', family: 'sd-turbo', source: 'imported', sizeBytes: 1e9,
  defaults: { steps: 4, guidanceScale: 0, scheduler: 'EulerAncestralDiscreteScheduler', width: 512, height: 512 },
};

describe('model defaults in the workspace', () => {
  it('selecting an imported model sets its steps, guidance, scheduler and size', async () => {
    const fake = createFakeClient();
    const listed = fake.client.listModels;
    fake.client.listModels = async () => [...(await listed()), turbo];
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    await store.getState().selectModel('my-turbo');
    expect(store.getState().params).toMatchObject({ modelId: 'my-turbo', steps: 4, guidanceScale: 0, scheduler: 'EulerAncestralDiscreteScheduler', width: 512, height: 512 });
  });
});
