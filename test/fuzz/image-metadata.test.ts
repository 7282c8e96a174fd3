/**
 * Issue 15 fuzz (seeded, bounded): the PNG / JPEG / WebP metadata reader (what a dropped file goes
 * through) on real files made here — PNG text chunks (tEXt A1111 parameters, compressed iTXt Atelier
 * JSON, zTXt ComfyUI prompt, InvokeAI metadata), JPEG and WebP with EXIF ImageDescription and XMP —
 * then mutated: bit flips, boundary lengths, truncation, deletion, insertion, duplicated chunks,
 * trailing garbage. The reader must never throw, never take long and always return its shape.
 */
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatInfotext } from '../../common/infotext';
import { readImageMetadata } from '../../main/library/image-metadata';
import { encodeChunk, encodeTextChunk } from '../../main/library/png-chunks';
import { budget, cases, concat, FUZZ_SEED, mutateBytesN, Rng } from './fuzz-kit';

const SOURCES = new Set(['atelier', 'a1111', 'invokeai', 'comfyui', 'unknown']);
const INFOTEXT = formatInfotext({ prompt: 'a (red:1.2) cube, é 🙂', negativePrompt: 'blurry', steps: 20, scheduler: 'EulerDiscreteScheduler', guidanceScale: 7, seed: 42, width: 32, height: 32, modelId: 'sd15', rng: 'cpu' });
const ATELIER_JSON = JSON.stringify({ version: 1, generation: { prompt: 'a red cube', negativePrompt: '', seed: 42, steps: 20, cfg: 7, width: 32, height: 32, scheduler: 'EulerDiscreteScheduler', modelId: 'sd15', rng: 'cpu' } });
const COMFY_PROMPT = JSON.stringify({ '3': { class_type: 'KSampler', inputs: { seed: 1, steps: 20, cfg: 7, sampler_name: 'euler', scheduler: 'normal', denoise: 1 } }, '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a cube' } } });
const INVOKE = JSON.stringify({ positive_prompt: 'a cube', negative_prompt: '', seed: 3, steps: 30, cfg_scale: 6, width: 32, height: 32, scheduler: 'euler' });
const XMP = `<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description><rdf:Alt><rdf:li xml:lang="x-default">${INFOTEXT.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</rdf:li></rdf:Alt></dc:description></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;

interface Sample {
  name: string;
  bytes: Uint8Array;
  /** Where the metadata lives: half the mutations aim there. */
  focus: { start: number; end: number };
}
const samples: Sample[] = [];

function zTXt(keyword: string, text: string): Buffer {
  return encodeChunk('zTXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 0]), deflateSync(Buffer.from(text, 'latin1'))]));
}

beforeAll(async () => {
  const rgb = Buffer.alloc(32 * 32 * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37) & 0xff;
  const img = () => sharp(rgb, { raw: { width: 32, height: 32, channels: 3 } });
  const png = new Uint8Array(await img().png().toBuffer());
  const afterIhdr = 8 + 25; // signature + IHDR chunk
  const chunks = concat(encodeTextChunk('parameters', INFOTEXT), encodeTextChunk('atelier', ATELIER_JSON, { compress: true }), zTXt('prompt', COMFY_PROMPT), encodeTextChunk('invokeai_metadata', INVOKE));
  samples.push({ name: 'png', bytes: concat(png.slice(0, afterIhdr), chunks, png.slice(afterIhdr)), focus: { start: afterIhdr, end: afterIhdr + chunks.length } });
  for (const format of ['jpeg', 'webp'] as const) {
    const bytes = new Uint8Array(await img()[format]().withExif({ IFD0: { ImageDescription: INFOTEXT } }).withXmp(XMP).toBuffer());
    samples.push({ name: format, bytes, focus: { start: 0, end: Math.min(bytes.length, 4096) } });
  }
});

function check(bytes: Uint8Array, where: string): void {
  const started = performance.now();
  const meta = readImageMetadata(bytes);
  expect(performance.now() - started, `${where}: slow`).toBeLessThan(2_000);
  expect(SOURCES.has(meta.source), `${where}: source ${meta.source}`).toBe(true);
  expect(Array.isArray(meta.warnings), where).toBe(true);
  for (const w of meta.warnings) expect(typeof w, where).toBe('string');
  for (const v of Object.values(meta.raw)) expect(typeof v, where).toBe('string');
  if (meta.generation) expect(typeof meta.generation, where).toBe('object');
}

describe(`image metadata reader fuzz (seed ${FUZZ_SEED})`, () => {
  it('reads the unmutated files (the fuzz starts from files it understands)', () => {
    const png = readImageMetadata(samples[0].bytes);
    expect(png.source).not.toBe('unknown');
    expect(Object.keys(png.raw)).toEqual(expect.arrayContaining(['parameters', 'atelier', 'prompt', 'invokeai_metadata']));
    for (const s of samples.slice(1)) expect(readImageMetadata(s.bytes).source, s.name).toBe('a1111');
  });

  for (const formatIndex of [0, 1, 2]) {
    it(`mutated ${['PNG', 'JPEG', 'WebP'][formatIndex]} files: never throws, never hangs, keeps its shape`, () => {
      const sample = samples[formatIndex];
      const rng = new Rng(FUZZ_SEED + formatIndex * 7919);
      const more = budget(5_000);
      let n = 0;
      for (let i = 0; i < cases(1500) && more(); i++, n++) {
        const mutated = mutateBytesN(rng, sample.bytes, 4, rng.bool() ? sample.focus : undefined);
        check(mutated, `seed ${FUZZ_SEED} ${sample.name} case ${i}`);
      }
      expect(n).toBeGreaterThan(10);
    });
  }

  it('odd inputs: empty, signatures alone, random bytes, a compressed-text bomb', () => {
    const rng = new Rng(FUZZ_SEED ^ 0xabcdef);
    check(new Uint8Array(0), 'empty');
    check(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'PNG signature only');
    check(Uint8Array.from([0xff, 0xd8, 0xff]), 'JPEG SOI only');
    check(new TextEncoder().encode('RIFF\xff\xff\xff\xffWEBPVP8X'), 'WebP header only');
    for (let i = 0; i < cases(200); i++) check(rng.bytes(rng.int(0, 2048)), `seed ${FUZZ_SEED} random ${i}`);
    // 200 MB of spaces compressed into a zTXt: must be capped, not inflated.
    const bomb = zTXt('parameters', ' '.repeat(200 * 1024 * 1024));
    const png = samples[0].bytes;
    check(concat(png.slice(0, 33), bomb, png.slice(33)), 'zTXt bomb');
  });
});
