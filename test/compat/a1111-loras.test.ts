/**
 * A1111's `GET /sdapi/v1/loras` (extensions-builtin/Lora `create_lora_json`: `[{name, alias, path,
 * metadata}]`) on the real compatibility server, listing real LoRA fixture files installed in the
 * backend's models folder. A client puts `<lora:alias:w>` into its prompt, so the alias must be a
 * name Atelier resolves.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startCompat, type CompatHarness } from './helpers';

let h: CompatHarness;
beforeAll(async () => {
  h = await startCompat();
});
afterAll(async () => {
  await h?.close();
});

async function getLoras(): Promise<{ status: number; type: string | null; json: unknown }> {
  const res = await fetch(`${h.base}/sdapi/v1/loras`);
  return { status: res.status, type: res.headers.get('content-type'), json: await res.json() };
}

describe('A1111 API — GET /sdapi/v1/loras', () => {
  it('answers an empty list when no LoRA is installed', async () => {
    const r = await getLoras();
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    expect(r.json).toEqual([]);
  });

  it('lists installed LoRAs as {name, alias, path, metadata}, without server paths', async () => {
    const loras = join((await h.client.getSettings()).modelsDir, 'loras');
    mkdirSync(loras, { recursive: true });
    for (const f of ['kohya_sd15.safetensors', 'peft_sd15.safetensors']) copyFileSync(join(REPO_ROOT, 'test', 'fixtures', 'lora', f), join(loras, f));
    const r = await getLoras();
    expect(r.status).toBe(200);
    expect(r.json).toEqual([
      { name: 'kohya_sd15', alias: 'kohya_sd15', path: 'loras/kohya_sd15.safetensors', metadata: { ss_network_dim: '4' } },
      { name: 'peft_sd15', alias: 'peft_sd15', path: 'loras/peft_sd15.safetensors', metadata: {} },
    ]);
    // Same list the studio sees through the typed API.
    expect((await h.client.listLoras()).map((l) => l.name)).toEqual((r.json as { name: string }[]).map((l) => l.name));
    expect(JSON.stringify(r.json)).not.toContain(h.home);
  });
});
