/** Variant explorer "Lock composition": every variant becomes img2img from the source. */
import { describe, expect, it } from 'vitest';
import { buildVariants } from '../../renderer/lib/variants';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient, record } from './fake-client';

describe('lock composition', () => {
  const source = record({ id: 'src', prompt: 'a vase', seed: 7 });

  it('adds the source as init image at the chosen strength, keeping seed and parent link', () => {
    const [v] = buildVariants(source, 'lighting', ['golden hour'], 4, { lockStrength: 0.35 });
    expect(v!.request).toMatchObject({ prompt: 'a vase, golden hour', seed: 7, parentId: 'src', initImage: { generationId: 'src' }, strength: 0.35 });
  });

  it('leaves free variants as text-to-image and clamps the strength into range', () => {
    expect(buildVariants(source, 'reflection', ['reflected in glass'])[0]!.request.initImage).toBeUndefined();
    expect(buildVariants(source, 'cfg', ['3'], 4, { lockStrength: 0 })[0]!.request.strength).toBe(0.05);
    expect(buildVariants(source, 'cfg', ['3'], 4, { lockStrength: 2 })[0]!.request.strength).toBe(1);
  });

  it('the store sends locked variants to generate and remembers the lock on the group', async () => {
    const fake = createFakeClient({ history: [source] });
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    await new Promise((r) => setTimeout(r, 0));
    await store.getState().runVariants('src', 'lighting', ['neon light', 'rim light'], 4, { lockStrength: 0.4 });
    expect(fake.callsTo('generate')).toHaveLength(2);
    for (const req of fake.callsTo('generate')) expect(req).toMatchObject({ initImage: { generationId: 'src' }, strength: 0.4, parentId: 'src' });
    expect(store.getState().variantGroups[0]).toMatchObject({ sourceId: 'src', lockStrength: 0.4 });
  });
});
