/**
 * `getControlImage` over the real WebSocket transport and backend (engine process, SQLite library):
 * a control image given as bytes is kept in the project and recorded as `sha256:<hex>`; the method
 * hands back those exact bytes with their size and type, so the studio restores the unit with its
 * image and a generate with them reuses the same stored file. Bad refs, unknown ones, damaged and
 * oversized files are typed errors with a sentence.
 * Fixtures: the sd15-diffusers test model with a ControlNet UNet and the fixture ControlNet graph
 * (models/tools/make_controlnet_fixtures.py), as test/app/controlnet-generate.test.ts uses them.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerationRecord } from '../../common/api/contract';
import { storeControlImage } from '../../main/library';
import { MAX_CONTROL_IMAGE_BYTES } from '../../main/app/stored-control-image';
import { modelWithControlUnet } from '../engine/controlnet/helpers';
import { generateOne } from '../helpers/in-process-api';
import { createHarness, type Harness } from './transports';

const fixture = modelWithControlUnet('sd15-diffusers', 'unet-additional');
const MODEL = 'sd15-cn';
const base = { modelId: MODEL, prompt: 'a photo of a cat', width: 64, height: 64, steps: 2, guidanceScale: 7.5, seed: 5 };
let h: Harness;
let projectDir: string;

/** 48×40 PNG, every pixel different (a gradient with a bright bar): any re-encoding or resize would show. */
async function controlPng(): Promise<Buffer> {
  const [w, hgt] = [48, 40];
  const rgb = Buffer.alloc(w * hgt * 3);
  for (let y = 0; y < hgt; y++) for (let x = 0; x < w; x++) rgb.set(x >= 10 && x < 20 ? [240, 240, 240] : [x * 5, y * 6, (x + y) % 256], (y * w + x) * 3);
  return sharp(rgb, { raw: { width: w, height: hgt, channels: 3 } }).png().toBuffer();
}

const rawPixels = (bytes: Buffer) => sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const sha256Of = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const bytesOf = (dataUrl: string) => Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');

beforeAll(async () => {
  h = await createHarness('websocket');
  const modelsDir = (await h.client.getSettings()).modelsDir;
  mkdirSync(join(modelsDir, 'controlnets'), { recursive: true });
  cpSync('test/fixtures/controlnet/cn-named', join(modelsDir, 'controlnets', 'edges'), { recursive: true });
  await h.client.importModel({ folder: fixture.folder, mode: 'reference', id: MODEL });
  projectDir = (await h.client.listProjects()).find((p) => p.isCurrent)!.path;
});
afterAll(async () => {
  await h?.close();
  fixture.cleanup();
});

describe('getControlImage', () => {
  let png: Buffer;
  let generated: GenerationRecord;

  it('hands back the opened control image a generation recorded: the same bytes, pixels, size and type', async () => {
    png = await controlPng();
    generated = await generateOne(h.client, { ...base, controlNets: [{ model: 'edges', image: { base64: png.toString('base64') }, annotator: { kind: 'canny' } }] });
    const ref = generated.controlNets![0]!.imageRef;
    expect(ref).toBe(sha256Of(png));

    const got = await h.client.getControlImage({ ref });
    expect(got).toMatchObject({ ref, mime: 'image/png', width: 48, height: 40 });
    expect(got.dataUrl.startsWith('data:image/png;base64,')).toBe(true);
    expect(bytesOf(got.dataUrl).equals(png)).toBe(true);
    const [mine, theirs] = await Promise.all([rawPixels(png), rawPixels(bytesOf(got.dataUrl))]);
    expect(theirs.info).toMatchObject({ width: 48, height: 40, channels: 3 });
    expect(theirs.data.equals(mine.data)).toBe(true);
  });

  it('its bytes sent again with a generate request point at the same stored file', async () => {
    const ref = generated.controlNets![0]!.imageRef;
    const { dataUrl } = await h.client.getControlImage({ ref });
    const again = await generateOne(h.client, { ...base, controlNets: [{ model: 'edges', image: { base64: dataUrl.slice(dataUrl.indexOf(',') + 1) }, annotator: { kind: 'canny' } }] });
    expect(again.controlNets![0]!.imageRef).toBe(ref);
    const hex = ref.slice('sha256:'.length);
    expect(readdirSync(join(projectDir, 'controls', hex.slice(0, 2)))).toEqual([`${hex}.png`]);
  });

  it('a generate request may name the kept image by its ref: same record, same pixels as sending the bytes', async () => {
    const ref = generated.controlNets![0]!.imageRef;
    const byRef = await generateOne(h.client, { ...base, controlNets: [{ model: 'edges', image: { ref }, annotator: { kind: 'canny' } }] });
    expect(byRef.controlNets![0]!.imageRef).toBe(ref);
    const pixels = async (r: GenerationRecord) => (await rawPixels((await h.fetchImage(r.imageUrl)).bytes)).data;
    expect((await pixels(byRef)).equals(await pixels(generated))).toBe(true);
    // A ref the project does not keep is refused before queueing, naming the unit's field.
    const missing = `sha256:${'5'.repeat(64)}`;
    const jobsBefore = (await h.client.listJobs()).length;
    await expect(h.client.generate({ ...base, controlNets: [{ model: 'edges', image: { ref: missing } }] })).rejects.toMatchObject({
      code: 'not_found',
      issues: [{ path: 'controlNets[0].image.ref' }],
      message: expect.stringContaining(`keeps no control image ${missing}`),
    });
    expect((await h.client.listJobs()).length).toBe(jobsBefore);
  });

  it('gives the size as shown: a JPEG turned by its EXIF orientation reports the turned size', async () => {
    const jpeg = await sharp(await controlPng()).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const ref = await storeControlImage(projectDir, jpeg);
    const got = await h.client.getControlImage({ ref });
    expect(got).toMatchObject({ ref, mime: 'image/jpeg', width: 40, height: 48 });
    expect(bytesOf(got.dataUrl).equals(jpeg)).toBe(true);
  });

  it('refuses a ref that is not sha256:<64 lowercase hex> with the schema’s sentence', async () => {
    for (const ref of ['g123', `sha256:${'A'.repeat(64)}`, `sha256:${'0'.repeat(63)}`, '../../etc/passwd']) {
      await expect(h.client.getControlImage({ ref })).rejects.toMatchObject({
        code: 'invalid_request',
        issues: [{ path: 'ref', message: expect.stringContaining('must be "sha256:" followed by 64 lowercase hex digits') }],
      });
    }
  });

  it('an image this project does not keep is not_found, naming the ref', async () => {
    const ref = `sha256:${'7'.repeat(64)}`;
    await expect(h.client.getControlImage({ ref })).rejects.toMatchObject({ code: 'not_found', message: expect.stringContaining(`No control image ${ref} in this project`) });
  });

  it('a stored file that is not an image, or a PNG cut short, is a clear error, not a crash', async () => {
    const png = await controlPng();
    for (const bytes of [Buffer.from('this is not an image, just text that was kept'), png.subarray(0, Math.floor(png.length / 2))]) {
      const ref = await storeControlImage(projectDir, bytes);
      await expect(h.client.getControlImage({ ref })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(new RegExp(`^The stored control image ${ref} is not a readable image \\(.+\\); open the original file again\\.$`)) });
    }
  });

  it(`refuses a stored file over ${MAX_CONTROL_IMAGE_BYTES / 2 ** 20} MB with a sentence`, async () => {
    const hex = 'ab'.repeat(32);
    const file = join(projectDir, 'controls', hex.slice(0, 2), `${hex}.png`);
    mkdirSync(join(projectDir, 'controls', hex.slice(0, 2)), { recursive: true });
    writeFileSync(file, Buffer.alloc(0));
    truncateSync(file, MAX_CONTROL_IMAGE_BYTES + 1); // sparse: no 50 MB written
    await expect(h.client.getControlImage({ ref: `sha256:${hex}` })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/is 52\.4 MB; at most 50 MB are handed back\. Open the original file again instead\.$/) });
  });
});
