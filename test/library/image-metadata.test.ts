import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodeGenerationPng, readImageMetadata } from '../../main/library';
import { encodeChunk, encodeTextChunk, insertChunksAfterIhdr } from '../../main/library/png-chunks';
import { params, testImage } from './helpers';

async function plainPng(w = 16, h = 16): Promise<Buffer> {
  return sharp(Buffer.from(testImage(w, h).rgb), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

function withText(png: Buffer, entries: Record<string, string>): Buffer {
  return insertChunksAfterIhdr(png, Object.entries(entries).map(([k, v]) => encodeTextChunk(k, v)));
}

/** Minimal big-endian TIFF with an Exif IFD holding a piexif-style UNICODE UserComment. */
function exifWithUnicodeUserComment(text: string): Buffer {
  const utf16be = Buffer.alloc(text.length * 2);
  for (let i = 0; i < text.length; i++) utf16be.writeUInt16BE(text.charCodeAt(i), i * 2);
  const comment = Buffer.concat([Buffer.from('UNICODE\0', 'latin1'), utf16be]);
  const ifd0At = 8;
  const exifIfdAt = ifd0At + 2 + 12 + 4;
  const valueAt = exifIfdAt + 2 + 12 + 4;
  const t = Buffer.alloc(valueAt + comment.length);
  t.write('MM', 0, 'latin1');
  t.writeUInt16BE(42, 2);
  t.writeUInt32BE(ifd0At, 4);
  t.writeUInt16BE(1, ifd0At);
  t.writeUInt16BE(0x8769, ifd0At + 2);
  t.writeUInt16BE(4, ifd0At + 4);
  t.writeUInt32BE(1, ifd0At + 6);
  t.writeUInt32BE(exifIfdAt, ifd0At + 10);
  t.writeUInt16BE(1, exifIfdAt);
  t.writeUInt16BE(0x9286, exifIfdAt + 2);
  t.writeUInt16BE(7, exifIfdAt + 4);
  t.writeUInt32BE(comment.length, exifIfdAt + 6);
  t.writeUInt32BE(valueAt, exifIfdAt + 10);
  comment.copy(t, valueAt);
  return t;
}

function jpegWithApp1(payload: Buffer, jpegBody: Buffer): Buffer {
  const seg = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), payload]);
  const header = Buffer.from([0xff, 0xe1, (seg.length + 2) >> 8, (seg.length + 2) & 255]);
  return Buffer.concat([jpegBody.subarray(0, 2), header, seg, jpegBody.subarray(2)]);
}

describe('readImageMetadata: recognition', () => {
  it('reads our own PNGs losslessly (encodeGenerationPng)', async () => {
    const p = params({ width: 16, height: 16, createdAt: 123, timings: { total: 5 } });
    const png = await encodeGenerationPng(testImage(16, 16), p);
    const meta = readImageMetadata(png);
    expect(meta.source).toBe('atelier');
    expect(meta.generation).toMatchObject({ ...p, batchIndex: 0, strength: null, parentId: null });
    expect(Object.keys(meta.raw).sort()).toEqual(['atelier', 'parameters']);
  });

  it('reads A1111 parameters from tEXt, zTXt and iTXt (compressed) chunks', async () => {
    const text = 'a dog\nNegative prompt: cat\nSteps: 25, Sampler: DPM++ 2M Karras, CFG scale: 5, Seed: 99, Size: 16x16, Model: x';
    const base = await plainPng();
    const ztxt = encodeChunk('zTXt', Buffer.concat([Buffer.from('parameters\0\0', 'latin1'), deflateSync(Buffer.from(text, 'latin1'))]));
    for (const png of [withText(base, { parameters: text }), insertChunksAfterIhdr(base, [ztxt]), insertChunksAfterIhdr(base, [encodeTextChunk('parameters', text, { compress: true })])]) {
      const meta = readImageMetadata(png);
      expect(meta.source).toBe('a1111');
      expect(meta.generation).toMatchObject({ prompt: 'a dog', negativePrompt: 'cat', steps: 25, seed: 99, guidanceScale: 5, width: 16, height: 16, modelId: 'x', scheduler: 'DPMSolverMultistepScheduler+karras' });
      expect(meta.warnings).toEqual([]);
    }
  });

  it('reads InvokeAI metadata', async () => {
    const png = withText(await plainPng(), {
      invokeai_metadata: JSON.stringify({ positive_prompt: 'castle', negative_prompt: 'fog', seed: 7, steps: 30, cfg_scale: 7.5, width: 768, height: 512, scheduler: 'dpmpp_2m_k', model: { name: 'juggernaut', hash: 'blake3:abc', base: 'sdxl' }, generation_mode: 'txt2img' }),
    });
    const meta = readImageMetadata(png);
    expect(meta.source).toBe('invokeai');
    expect(meta.generation).toEqual({ prompt: 'castle', negativePrompt: 'fog', seed: 7, steps: 30, guidanceScale: 7.5, width: 768, height: 512, scheduler: 'DPMSolverMultistepScheduler+karras', modelId: 'juggernaut', modelHash: 'blake3:abc', modelFamily: 'sdxl' });
  });

  it('reads ComfyUI API graphs by following the sampler links', async () => {
    const prompt = {
      '3': { class_type: 'KSampler', inputs: { seed: 156680208700286, steps: 20, cfg: 8, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] } },
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'v1-5-pruned-emaonly.safetensors' } },
      '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text: 'beautiful scenery', clip: ['4', 1] } },
      '7': { class_type: 'CLIPTextEncode', inputs: { text: 'text, watermark', clip: ['4', 1] } },
    };
    const meta = readImageMetadata(withText(await plainPng(), { prompt: JSON.stringify(prompt), workflow: '{"nodes":[]}' }));
    expect(meta.source).toBe('comfyui');
    expect(meta.generation).toEqual({ prompt: 'beautiful scenery', negativePrompt: 'text, watermark', seed: 156680208700286, steps: 20, guidanceScale: 8, width: 512, height: 512, scheduler: 'EulerDiscreteScheduler', modelId: 'v1-5-pruned-emaonly.safetensors' });
    const wfOnly = readImageMetadata(withText(await plainPng(), { workflow: '{"nodes":[]}' }));
    expect(wfOnly.source).toBe('comfyui');
    expect(wfOnly.generation).toBeUndefined();
    expect(wfOnly.warnings.join()).toMatch(/no API-format/);
  });

  it('reads EXIF UserComment from JPEG (piexif UTF-16) and WebP (sharp)', async () => {
    const text = 'portrait, 日本\nSteps: 12, Sampler: Euler, CFG scale: 4, Seed: 3';
    const jpeg = await sharp(Buffer.from(testImage(16, 16).rgb), { raw: { width: 16, height: 16, channels: 3 } }).jpeg().toBuffer();
    const fromJpeg = readImageMetadata(jpegWithApp1(exifWithUnicodeUserComment(text), jpeg));
    expect(fromJpeg.source).toBe('a1111');
    expect(fromJpeg.generation).toMatchObject({ prompt: 'portrait, 日本', steps: 12, seed: 3 });

    const webp = await sharp(Buffer.from(testImage(16, 16).rgb), { raw: { width: 16, height: 16, channels: 3 } })
      .withExif({ IFD2: { UserComment: 'tree\nSteps: 5, Sampler: DDIM, Seed: 8' } }).webp().toBuffer();
    const fromWebp = readImageMetadata(webp);
    expect(fromWebp.source).toBe('a1111');
    expect(fromWebp.generation).toMatchObject({ prompt: 'tree', steps: 5, seed: 8, scheduler: 'DDIMScheduler' });
  });

  it('reports unknown sources and formats without throwing', async () => {
    expect(readImageMetadata(await plainPng())).toEqual({ source: 'unknown', raw: {}, warnings: [] });
    const gif = readImageMetadata(Buffer.from('GIF89a....'));
    expect(gif.source).toBe('unknown');
    expect(gif.warnings[0]).toMatch(/unrecognised/);
  });
});

describe('readImageMetadata: hostile input never throws', () => {
  it('survives garbage JSON, bad CRCs, huge lengths and zip bombs', async () => {
    const base = await plainPng();
    const garbage = readImageMetadata(withText(base, { atelier: '{not json', invokeai_metadata: '[1,2' }));
    expect(garbage.source).toBe('unknown');
    expect(garbage.warnings.join('\n')).toMatch(/not valid JSON/);

    const badFields = readImageMetadata(withText(base, { atelier: JSON.stringify({ v: 1, params: { seed: 'x', prompt: 'ok', steps: -5 } }) }));
    expect(badFields.source).toBe('atelier');
    expect(badFields.generation).toEqual({ prompt: 'ok' });

    const withChunk = withText(base, { parameters: 'a\nSteps: 1, Seed: 2, CFG scale: 3' });
    const badCrc = Buffer.from(withChunk);
    badCrc[33 + 8 + 'parameters'.length + 3] ^= 0xff; // corrupt payload of first inserted chunk
    const r = readImageMetadata(badCrc);
    expect(r.warnings.join()).toMatch(/bad CRC/);

    const huge = Buffer.from(base);
    huge.writeUInt32BE(0x7fffffff, 33); // first chunk after IHDR claims 2 GB
    expect(readImageMetadata(huge).warnings.join()).toMatch(/truncated/);

    const bomb = encodeChunk('zTXt', Buffer.concat([Buffer.from('parameters\0\0', 'latin1'), deflateSync(Buffer.alloc(64 * 1024 * 1024, 0x41))]));
    const bombed = readImageMetadata(insertChunksAfterIhdr(base, [bomb]));
    expect(bombed.warnings.join()).toMatch(/could not be decoded/);
  });

  it('fuzz: random buffers, every truncation and random bit flips of real files', async () => {
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
    const samples: Buffer[] = [
      await encodeGenerationPng(testImage(16, 16), params({ width: 16, height: 16, prompt: 'ünïcødé ✓' })),
      await sharp(Buffer.from(testImage(16, 16).rgb), { raw: { width: 16, height: 16, channels: 3 } }).withExif({ IFD2: { UserComment: 'x\nSteps: 1, Seed: 2, CFG scale: 3' } }).jpeg().toBuffer(),
      await sharp(Buffer.from(testImage(16, 16).rgb), { raw: { width: 16, height: 16, channels: 3 } }).withExif({ IFD0: { ImageDescription: 'd' } }).webp().toBuffer(),
      jpegWithApp1(exifWithUnicodeUserComment('y\nSteps: 1, Seed: 2, CFG scale: 3'), await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } }).jpeg().toBuffer()),
    ];
    let calls = 0;
    const check = (b: Uint8Array) => {
      const r = readImageMetadata(b);
      expect(['atelier', 'a1111', 'invokeai', 'comfyui', 'unknown']).toContain(r.source);
      expect(Array.isArray(r.warnings)).toBe(true);
      calls++;
    };
    for (let i = 0; i < 300; i++) {
      const len = Math.floor(rnd() * 2048);
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
      // give a third of them a valid signature so the chunk/segment walkers run
      if (i % 3 === 0 && len >= 8) Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b);
      if (i % 3 === 1 && len >= 3) Buffer.from([0xff, 0xd8, 0xff]).copy(b);
      check(b);
    }
    for (const s of samples) {
      for (let cut = 0; cut < s.length; cut += Math.max(1, Math.floor(s.length / 400))) check(s.subarray(0, cut));
      for (let k = 0; k < 200; k++) {
        const m = Buffer.from(s);
        for (let f = 0; f < 1 + Math.floor(rnd() * 8); f++) m[Math.floor(rnd() * m.length)] ^= 1 << Math.floor(rnd() * 8);
        check(m);
      }
    }
    check(null as unknown as Uint8Array);
    expect(calls).toBeGreaterThan(1000);
  });
});

describe('readImageMetadata: hostile XMP stays linear', () => {
  it('handles many unterminated tags quickly', async () => {
    const xmp = '<exif:UserComment><rdf:li>'.repeat(15_000) + '<atelier:document>'.repeat(10_000) + '<dc:description>'.repeat(10_000);
    const webp = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'blue' } }).withXmp(xmp).webp().toBuffer();
    const t0 = performance.now();
    const meta = readImageMetadata(webp);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(meta.source).toBe('unknown');
    expect(meta.raw.XMP.length).toBeGreaterThan(500_000); // really scanned (under the 1 MB cap)
  });
});
