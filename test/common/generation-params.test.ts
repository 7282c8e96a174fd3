import { describe, expect, it } from 'vitest';
import { generationParamsSchema, paramsFromFileJson, paramsToFileJson, pickGenerationParams, REQUESTED_PARAM_KEYS, type GenerationParams } from '../../common/params/generation';
import { GenerateRequest } from '../../common/api/schemas';
import { embedMetadata, encodeRgb } from '../../main/library/project-files';
import { readImageMetadata } from '../../main/library';
import { decodeTextChunk, readPngChunks } from '../../main/library/png-chunks';

const PARAMS: GenerationParams = generationParamsSchema.parse({
  modelId: 'atelier-demo', modelHash: 'ab'.repeat(32), modelFamily: 'demo', provider: 'cpu', prompt: 'a red cube', seed: 7, rng: 'cpu',
  scheduler: 'DDIMScheduler', steps: 20, guidanceScale: 1.3, width: 64, height: 64, createdAt: 1_760_000_000_000, appVersion: '0.1.0',
}) as GenerationParams;

function atelierChunkJson(png: Uint8Array): Record<string, unknown> {
  for (const c of readPngChunks(png)) {
    const t = decodeTextChunk(c, []);
    if (t?.keyword === 'atelier') return JSON.parse(t.text) as Record<string, unknown>;
  }
  throw new Error('no atelier chunk');
}

describe('one GenerationParams schema', () => {
  it('the request names every requested parameter exactly as the record does', () => {
    const requestKeys = Object.keys(GenerateRequest.shape);
    for (const key of REQUESTED_PARAM_KEYS) expect(requestKeys).toContain(key);
    expect(Object.keys(generationParamsSchema.shape)).toEqual(expect.arrayContaining([...REQUESTED_PARAM_KEYS]));
    // The drift this schema ended: one name for the guidance scale in the request, the record and the files' reader.
    expect(requestKeys).not.toContain('cfg');
    expect(Object.keys(generationParamsSchema.shape)).not.toContain('cfg');
  });

  it('files keep the `cfg` key they always had, and read back under the one name', async () => {
    const { png } = await encodeRgb({ width: 8, height: 8, rgb: new Uint8Array(8 * 8 * 3).fill(90) });
    const file = embedMetadata(png, { v: 1, id: '01J0000000000000000000TEST', params: PARAMS });
    const doc = atelierChunkJson(file);
    const params = doc['params'] as Record<string, unknown>;
    expect(params['cfg']).toBe(1.3);
    expect('guidanceScale' in params).toBe(false);
    const meta = readImageMetadata(file);
    expect(meta.source).toBe('atelier');
    expect(meta.generation).toMatchObject({ guidanceScale: 1.3, steps: 20, seed: 7 });
    expect(meta.generation && 'cfg' in meta.generation).toBe(false);
  });

  it('reads either spelling from a file; the new name wins when both are present', () => {
    expect(paramsFromFileJson({ cfg: 4, steps: 2 })).toEqual({ guidanceScale: 4, steps: 2 });
    expect(paramsFromFileJson({ guidanceScale: 5, steps: 2 })).toEqual({ guidanceScale: 5, steps: 2 });
    expect(paramsFromFileJson({ guidanceScale: 5, cfg: 4 })).toEqual({ guidanceScale: 5, cfg: 4 });
    expect(paramsFromFileJson(null)).toBeNull();
    expect(paramsToFileJson({ guidanceScale: 3, seed: 1 })).toEqual({ cfg: 3, seed: 1 });
  });

  it('picks the parameters out of a larger record without inventing absent ones', () => {
    const record = { ...PARAMS, id: 'x', rating: 3, notes: 'n', tags: ['a'] };
    const picked = pickGenerationParams(record);
    expect(picked).toEqual(PARAMS);
    expect('rating' in picked).toBe(false);
    expect('loraHashes' in picked).toBe(false);
  });
});
