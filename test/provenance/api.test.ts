/**
 * Content credentials through the API (real backend, demo model): every studio generation is signed,
 * verifyImage reads a stored generation or dropped bytes, readImageMetadata reports `c2pa`, the
 * project's disclosure setting is kept in the project, and receipts are served by id.
 */
import fs, { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateOne, useInProcessApi } from '../helpers/in-process-api';
import { flipPixelByte, officialRead } from './helpers';

const home = mkdtempSync(path.join(tmpdir(), 'atelier-prov-api-'));
const api = useInProcessApi(home);
const PROMPT = 'a red square on a white background';

async function fileOf(id: string): Promise<Buffer> {
  const file = await api.backend.resolveImage(id, 'image');
  return fs.readFileSync(file!);
}

describe('content credentials over the API', () => {
  it('a studio generation and its img2img child are signed; verifyImage reports the claim and the chain', async () => {
    const g = await generateOne(api.client, { prompt: PROMPT, steps: 4, seed: 3 });
    const store = await officialRead(await fileOf(g.id));
    expect(store!.validation_state).toBe('Valid');
    const v = await api.client.verifyImage({ id: g.id });
    expect(v).toMatchObject({ state: 'valid', aiGenerated: true, generator: 'Atelier 0.1.0', actions: ['c2pa.created'], model: { id: 'atelier-demo' }, disclosure: 'full' });
    expect(v.model?.hash).toBe(g.modelHash);
    expect(v.parameters).toMatchObject({ prompt: PROMPT, seed: 3, steps: 4 });
    expect(v.signer?.ownCertificate).toBe(true);

    const child = await generateOne(api.client, { prompt: PROMPT, steps: 4, seed: 4, initImage: { generationId: g.id }, strength: 0.5 });
    const vc = await api.client.verifyImage({ id: child.id });
    expect(vc.actions).toEqual(['c2pa.opened', 'c2pa.edited']);
    expect(vc.chain).toHaveLength(1);
    expect(vc.chain[0]).toMatchObject({ title: `${g.id}.png`, state: 'valid', actions: ['c2pa.created'] });
  });

  it('readImageMetadata and verifyImage on dropped bytes: valid, tampered, none', async () => {
    const g = await generateOne(api.client, { prompt: PROMPT, steps: 4, seed: 5 });
    const bytes = await fileOf(g.id);
    const meta = await api.client.readImageMetadata({ base64: bytes.toString('base64') });
    expect(meta.source).toBe('atelier');
    expect(meta.c2pa).toMatchObject({ state: 'valid', aiGenerated: true });
    const tampered = await api.client.readImageMetadata({ base64: flipPixelByte(bytes).toString('base64') });
    expect(tampered.c2pa?.state).toBe('invalid');
    expect(tampered.c2pa?.problems.join(' ')).toMatch(/dataHash\.mismatch/);
    const none = await api.client.verifyImage({ base64: Buffer.from('not an image').toString('base64') });
    expect(none.state).toBe('absent');
  });

  it('the disclosure setting is per project, and "ai-only" keeps the prompt out of the manifest', async () => {
    expect(await api.client.getProjectCredentials()).toEqual({ disclosure: 'full' });
    expect(await api.client.setProjectCredentials({ disclosure: 'ai-only' })).toEqual({ disclosure: 'ai-only' });
    const g = await generateOne(api.client, { prompt: 'a confidential purple cone', steps: 4, seed: 6 });
    const v = await api.client.verifyImage({ id: g.id });
    expect(v).toMatchObject({ state: 'valid', aiGenerated: true, disclosure: 'ai-only' });
    expect(v.parameters).toBeUndefined();
    expect(JSON.stringify(await officialRead(await fileOf(g.id)))).not.toContain('confidential purple cone');
    // Another project starts with the default.
    await api.client.createProject({ name: 'Second' });
    expect(await api.client.getProjectCredentials()).toEqual({ disclosure: 'full' });
    await expect(api.client.setProjectCredentials({ disclosure: 'nothing' as never })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('getReceipt: null until a receipt is stored; unknown ids are not_found', async () => {
    const g = await generateOne(api.client, { prompt: PROMPT, steps: 4, seed: 7 });
    expect(await api.client.getReceipt({ id: g.id })).toBeNull();
    await expect(api.client.getReceipt({ id: 'nope' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(api.client.verifyImage({ id: 'nope' })).rejects.toMatchObject({ code: 'not_found' });
  });
});
