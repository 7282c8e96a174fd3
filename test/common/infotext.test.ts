/**
 * One infotext writer: "Copy parameters" in the studio (renderer, from the API's GenerationRecord)
 * and the `parameters` chunk of the saved PNG (main, from the library row) write the same text
 * for the same image — A1111 sampler names, Schedule type, model hash, denoising strength.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { formatInfotext, infotextToParams, parseInfotext } from '../../common/infotext';
import { ProjectSession } from '../../main/app/project-session';
import { readImageMetadata } from '../../main/library';
import { embedMetadata } from '../../main/library/project-files';
import type { GenerationRecord as LibraryRecord } from '../../main/library/types';
import * as mainInfotext from '../../main/library/infotext';
import { toInfotext } from '../../renderer/lib/infotext';

function libraryRow(over: Partial<LibraryRecord> = {}): LibraryRecord {
  return {
    id: '01JABCDEFGHJKMNPQRSTVWXYZ0',
    imageHash: 'f'.repeat(64),
    imagePath: 'images/ff/x.png',
    thumbPath: 'thumbs/ff/x.webp',
    rating: 0,
    flag: 'none',
    notes: '',
    deletedAt: null,
    missingFile: false,
    origin: 'generated',
    importSource: null,
    modelId: 'atelier-demo',
    modelHash: '0123456789abcdef0123456789abcdef',
    modelFamily: 'sd1',
    provider: 'cpu',
    prompt: 'a small red circle, lit from the left',
    negativePrompt: 'blurry, text',
    seed: 1234,
    rng: 'cpu',
    scheduler: 'DDIMScheduler',
    steps: 20,
    guidanceScale: 1.3,
    clipSkip: 1,
    width: 64,
    height: 64,
    batchIndex: 0,
    strength: null,
    maskRef: null,
    initImageRef: null,
    parentId: null,
    timings: { unet: 100 },
    createdAt: 1_760_000_000_000,
    appVersion: '0.1.0',
    ...over,
  };
}

/** The API record the studio gets for a library row (the real mapping of the Node side). */
function apiRecord(row: LibraryRecord) {
  const fakeSession = { imageUrlBase: '/' } as unknown as ProjectSession;
  return ProjectSession.prototype.toRecord.call(fakeSession, row, { tagsOf: () => [] } as never);
}

/** The `parameters` chunk the library writes into the saved PNG. */
async function pngParameters(row: LibraryRecord): Promise<string> {
  const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
  const { imageHash: _h, imagePath: _p, thumbPath: _t, rating: _r, flag: _f, notes: _n, deletedAt: _d, missingFile: _m, origin: _o, importSource: _i, id, ...params } = row;
  const meta = readImageMetadata(embedMetadata(png, { v: 1, id, params }));
  return meta.raw['parameters']!;
}

const CASES: Array<[string, Partial<LibraryRecord>]> = [
  ['text-to-image, DDIM', {}],
  ['img2img with Karras sigmas', { scheduler: 'DPMSolverMultistepScheduler+karras', strength: 0.35, initImageRef: '01JABCDEFGHJKMNPQRSTVWXYZ9', parentId: '01JABCDEFGHJKMNPQRSTVWXYZ9' }],
  ['Euler a, clip skip 2, GPU noise, second of a batch', { scheduler: 'EulerAncestralDiscreteScheduler', clipSkip: 2, rng: 'cuda', batchIndex: 1 }],
  ['inpainting, quoted model name', { scheduler: 'LMSDiscreteScheduler', strength: 1, maskRef: 'sha256:abc', modelId: 'my, model: v2' }],
];

describe('one infotext writer', () => {
  for (const [name, over] of CASES) {
    it(`copy parameters = the saved PNG's parameters: ${name}`, async () => {
      const row = libraryRow(over);
      const copied = toInfotext(apiRecord(row));
      expect(copied).toBe(await pngParameters(row));
      expect(copied).toBe(mainInfotext.formatInfotext(row));
    });
  }

  it('writes A1111 names, schedule type, model hash and denoising strength', () => {
    const text = toInfotext(apiRecord(libraryRow(CASES[1]![1])));
    expect(text).toBe(
      'a small red circle, lit from the left\nNegative prompt: blurry, text\n' +
        'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 1.3, Seed: 1234, Size: 64x64, Model hash: 0123456789, ' +
        'Model: atelier-demo, Denoising strength: 0.35, RNG: CPU, Version: Atelier 0.1.0',
    );
    expect(toInfotext(apiRecord(libraryRow()))).toContain('Sampler: DDIM, CFG scale');
    expect(toInfotext(apiRecord(libraryRow()))).not.toContain('DDIMScheduler');
  });

  it('reads back to the same parameters', () => {
    const row = libraryRow(CASES[1]![1]);
    const back = infotextToParams(parseInfotext(toInfotext(apiRecord(row))));
    expect(back).toMatchObject({
      prompt: row.prompt, negativePrompt: row.negativePrompt, steps: 20, guidanceScale: 1.3, seed: 1234, width: 64, height: 64,
      scheduler: 'DPMSolverMultistepScheduler+karras', strength: 0.35, rng: 'cpu', modelId: 'atelier-demo', modelHash: '0123456789',
    });
  });

  it('main/library/infotext re-exports the common writer and parser', () => {
    expect(mainInfotext.formatInfotext).toBe(formatInfotext);
    expect(mainInfotext.parseInfotext).toBe(parseInfotext);
  });

  it('names what the text says but Atelier cannot apply', () => {
    const notes: string[] = [];
    const p = infotextToParams(
      parseInfotext('x\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Exponential, CFG scale: 7, Seed: 1, Size: 512x512, Hires upscale: 2, Version: v1.10.1'),
      notes,
    );
    expect(p.scheduler).toBe('DPMSolverMultistepScheduler');
    expect(notes).toEqual([
      'Schedule type “Exponential” — Atelier runs the Automatic and Karras schedules only; used Automatic',
      'Hires upscale — Atelier has no such setting',
    ]);
  });
});
