/**
 * The farm's small parts: the --farm URL (typed errors, password never printed), reaching Redis
 * (a real redis-server with a password; a closed port fails after bounded attempts), fair priorities,
 * the lossless task/result encoding, and the coordinator's store of uploaded results.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { FairPriorities } from '../../main/farm/fairness';
import { decodeOutcome, decodePipeline, encodeOutcome, encodePipeline, isResultRef, PREVIEW_MAX_SIDE, queueNameFor, shrinkPreview } from '../../main/farm/protocol';
import { FarmResultStore, resolveFarmToken } from '../../main/farm/result-store';
import { checkReachable, FarmConfigError, FarmConnectionError, parseFarmUrl } from '../../main/farm/redis-url';
import type { PipelineRequest } from '../../main/engine-host';
import { cleanupAll, freePort, startRedis, tempDir } from './helpers';

afterAll(cleanupAll);

describe('--farm URL', () => {
  it('parses redis:// and rediss:// with user, password and db, and redacts the password', () => {
    const plain = parseFarmUrl('redis://studio:6379');
    expect(plain.options).toMatchObject({ host: 'studio', port: 6379, db: 0 });
    expect(plain.options.tls).toBeUndefined();
    const tls = parseFarmUrl('rediss://farm:s%40cret@10.0.0.5:6380/2');
    expect(tls.options).toMatchObject({ host: '10.0.0.5', port: 6380, db: 2, username: 'farm', password: 's@cret', tls: { servername: '10.0.0.5' } });
    expect(tls.display).toBe('rediss://farm:***@10.0.0.5:6380/2');
    expect(parseFarmUrl('redis://:pw@h').display).toBe('redis://:***@h');
    expect(parseFarmUrl('redis://[::1]:7000').options).toMatchObject({ host: '::1', port: 7000 });
  });

  it('refuses what is not a usable Redis URL with a typed error that names the fix', () => {
    const bad: [string, RegExp][] = [
      ['studio server', /must be a Redis URL such as redis:\/\//],
      ['localhost:6379', /must start with redis:\/\/ or rediss:\/\//],
      ['http://host:6379', /must start with redis:\/\/ or rediss:\/\//],
      ['redis://host:6379/db1', /database must be a number/],
      ['redis://host:6379/0?password=x', /takes no query/],
    ];
    for (const [url, message] of bad) {
      expect(() => parseFarmUrl(url)).toThrow(FarmConfigError);
      expect(() => parseFarmUrl(url)).toThrow(message);
    }
  });
});

describe('reaching Redis', () => {
  it('fails after bounded attempts when nothing listens, without printing the password', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await checkReachable(parseFarmUrl(`redis://:topsecret@127.0.0.1:${port}`), { attempts: 2, connectTimeoutMs: 1000 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(FarmConnectionError);
    expect((err as Error).message).toMatch(new RegExp(`Cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} after 2 attempts`));
    expect((err as Error).message).not.toMatch(/topsecret/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('authenticates with the password in the URL and says so clearly when it is wrong', async () => {
    const redis = await startRedis(['--requirepass', 'farm-pass']);
    await expect(checkReachable(parseFarmUrl(`redis://:farm-pass@127.0.0.1:${redis.port}`), { attempts: 1 })).resolves.toBeUndefined();
    const wrong = await checkReachable(parseFarmUrl(`redis://:nope@127.0.0.1:${redis.port}`), { attempts: 3 }).catch((e: Error) => e);
    expect(wrong).toBeInstanceOf(FarmConnectionError);
    expect((wrong as Error).message).toMatch(/refused the credentials/);
    expect((wrong as Error).message).not.toMatch(/nope/);
  });
});

describe('fair priorities', () => {
  it("interleaves projects: one project's long batch does not starve another's single image", () => {
    const fair = new FairPriorities();
    const big = Array.from({ length: 200 }, () => fair.next('big', true));
    expect(big.slice(0, 3)).toEqual([1, 2, 3]);
    // Two of the batch have started; a single image from another project comes next, not 201st.
    fair.started(big[0]);
    fair.started(big[1]);
    const small = fair.next('small', true);
    expect(small).toBe(3);
    expect(big.filter((p) => p < small).length).toBe(2);
  });

  it('puts interactive (studio) jobs before API and batch jobs', () => {
    const fair = new FairPriorities();
    const api = fair.next('p', false);
    const studio = fair.next('p', true);
    expect(studio).toBeLessThan(api);
    expect(api).toBeLessThan(2 ** 21);
  });

  it('restarts its clock when a band drains, so priorities stay in range', () => {
    const fair = new FairPriorities();
    const a = fair.next('p', true);
    fair.started(a);
    fair.settled(a);
    expect(fair.next('q', true)).toBe(1);
  });
});

describe('task and result encoding', () => {
  it('round-trips a pipeline with an init image and a float mask exactly', () => {
    const rgb = Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7) % 256);
    const mask = Float32Array.from({ length: 64 * 64 }, (_, i) => (i % 3) / 3);
    const pipeline = { mode: 'inpaint', params: { prompt: 'x', steps: 4, seed: 5, width: 64, height: 64, initImage: { width: 64, height: 64, rgb }, mask: { width: 64, height: 64, data: mask }, strength: 1 } } as unknown as PipelineRequest;
    const back = decodePipeline(encodePipeline(pipeline)) as unknown as { params: { initImage: { rgb: Uint8Array }; mask: { data: Float32Array } } };
    expect(back.params.initImage.rgb).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(back.params.initImage.rgb).equals(Buffer.from(rgb))).toBe(true);
    expect(back.params.mask.data).toBeInstanceOf(Float32Array);
    expect(Array.from(back.params.mask.data)).toEqual(Array.from(mask));
  });

  it('returns pixels bit-identical and refuses a result of the wrong size', () => {
    const rgb = Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 31) % 256);
    const outcome = { images: [{ width: 8, height: 8, seed: 9, rgb }], provider: 'cpu' as const, scheduler: 'DDIMScheduler', timings: { denoiseMs: 1 }, truncatedPrompt: false };
    const result = encodeOutcome('w1', { family: 'sd1', fallbacks: [] }, outcome);
    const back = decodeOutcome(JSON.parse(JSON.stringify(result)));
    expect(Buffer.from(back.outcome.images[0].rgb).equals(Buffer.from(rgb))).toBe(true);
    expect(back.family).toBe('sd1');
    expect(() => decodeOutcome({ ...result, images: [{ ...result.images[0], width: 9 }] })).toThrow(/bytes for 9×8/);
  });

  it('names one queue per model content hash', () => {
    expect(queueNameFor('a'.repeat(64))).toBe(`model-${'a'.repeat(32)}`);
    expect(() => queueNameFor('not-a-hash')).toThrow(/content hash/);
  });
});

describe('previews sent through Redis', () => {
  it('keeps a small preview as it is and box-averages a large one by a whole factor to fit', () => {
    const small = { width: 64, height: 40, rgb: new Uint8Array(64 * 40 * 3).fill(7) };
    expect(shrinkPreview(small)).toBe(small);
    // 600×300: factor 3 → 200×100; each output pixel is the mean of its 3×3 block.
    const w = 600, h = 300;
    const rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([x % 3 === 0 ? 90 : 0, y % 3 === 2 ? 255 : 0, 30], (y * w + x) * 3);
    const out = shrinkPreview({ width: w, height: h, rgb });
    expect([out.width, out.height]).toEqual([200, 100]);
    expect(Math.max(out.width, out.height)).toBeLessThanOrEqual(PREVIEW_MAX_SIDE);
    expect([...out.rgb.subarray(0, 3)]).toEqual([30, 85, 30]); // 90·3/9, 255·3/9, 30
    expect([...out.rgb.subarray(out.rgb.length - 3)]).toEqual([30, 85, 30]);
  });
});

describe('large-result uploads (coordinator side)', () => {
  it('checks the farm token, bounds the size, verifies the digest, and reads back exactly what was stored', async () => {
    const dir = tempDir('atelier-farm-results-');
    const token = resolveFarmToken(undefined);
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(() => resolveFarmToken('short')).toThrow(/at least 16 printable characters/);
    const store = new FarmResultStore(dir, token, 1024);
    expect(store.acceptsToken(token)).toBe(true);
    for (const wrong of [null, '', `${token}x`, token.slice(1), 'x'.repeat(token.length)]) expect(store.acceptsToken(wrong)).toBe(false);

    await expect(store.receive('too-big-0001', Readable.from([Buffer.alloc(600), Buffer.alloc(600)]))).rejects.toMatchObject({ status: 413 });
    await expect(store.receive('bad-digest-01', Readable.from([Buffer.from('{}')]), '0'.repeat(64))).rejects.toMatchObject({ status: 400 });
    await expect(store.receive('../escape', Readable.from([Buffer.from('{}')]))).rejects.toMatchObject({ status: 400 });
    expect(readdirSync(dir)).toEqual([]);

    const body = Buffer.from(JSON.stringify({ v: 1, worker: 'w', family: 'sd1', fallbacks: [], outcome: {}, images: [] }));
    const sha256 = createHash('sha256').update(body).digest('hex');
    const stored = await store.receive('job-1-abcdef', Readable.from([body]), sha256);
    expect(stored).toEqual({ bytes: body.length, sha256 });
    const ref = { v: 1 as const, worker: 'w', upload: { id: 'job-1-abcdef', ...stored } };
    expect(isResultRef(ref)).toBe(true);
    expect(isResultRef({ v: 1, worker: 'w', family: 'sd1', images: [] })).toBe(false);
    expect(await store.read(ref)).toMatchObject({ worker: 'w', family: 'sd1' });
    await expect(store.read({ ...ref, upload: { ...ref.upload, sha256: 'f'.repeat(64) } })).rejects.toThrow(/does not match what it reported/);
    store.remove('job-1-abcdef');
    await expect.poll(() => readdirSync(dir), { timeout: 2000 }).toEqual([]);
    await expect(store.read(ref)).rejects.toThrow(/uploaded this result \(job-1-abcdef\), but it is not in/);
  });
});
