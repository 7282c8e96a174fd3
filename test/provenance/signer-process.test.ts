/**
 * The signing process (main/provenance/signer-process.ts): real child processes, a real socket and
 * the real c2pa library, misbehaving on purpose through ATELIER_SIGNER_TEST_HOOK. Whatever happens
 * to the signing process, a save stores its image: signed by a fresh process, or unsigned with the
 * reason — never lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProjectLibrary } from '../../main/library';
import {
  Provenance, SignerCrashedError, SignerProcess, SignerTimeoutError, SignerUnavailableError, generationManifest, installationIdentity,
} from '../../main/provenance';
import { insertedBlock } from '../../main/provenance/signer-protocol';
import { params, removeDir, tempDir, testImage } from '../library/helpers';
import { officialRead, readBytes } from './helpers';

let root: string;
let home: string;
const started: SignerProcess[] = [];

function signer(hook?: 'crash-frame' | 'die-on-sign' | 'hang-on-sign', opts: { requestTimeoutMs?: number; startTimeoutMs?: number } = {}): SignerProcess {
  const sp = new SignerProcess({ ...opts, env: hook ? { ATELIER_SIGNER_TEST_HOOK: hook } : {} });
  started.push(sp);
  return sp;
}

/** Whether a process with this id still runs (signal 0 only checks). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && running(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !running(pid);
}

const pngs = new Map<number, Buffer>();
async function pngFile(seed = 1): Promise<Buffer> {
  const made = pngs.get(seed);
  if (made) return made;
  const lib = await ProjectLibrary.create(root, `plain-${seed}`, { durableWrites: false });
  const g = await lib.addGeneration({ image: testImage(64, 64, seed), params: params({ width: 64, height: 64 }) });
  const bytes = readBytes(g.imagePath);
  lib.close();
  pngs.set(seed, bytes);
  return bytes;
}

function manifestFor(id: string) {
  return generationManifest({ id, params: { ...params({ width: 64, height: 64 }), createdAt: 1, clipSkip: 1, batchIndex: 0 } as never, disclosure: 'full', format: 'image/png', hasParent: false }).definition;
}

beforeAll(() => {
  root = tempDir('atelier-signer-');
  home = path.join(root, 'home');
});

afterEach(() => {
  for (const sp of started.splice(0)) sp.close();
});

afterAll(() => removeDir(root));

describe('the signing process', () => {
  it('signs in another process, sends back only the inserted manifest, and the joined file validates', async () => {
    const sp = signer();
    await sp.start();
    expect(sp.pid).toBeGreaterThan(0);
    expect(sp.pid).not.toBe(process.pid);
    const input = await pngFile();
    const out = await sp.sign(input, 'image/png', manifestFor('a1'), installationIdentity(home));
    expect(out.parts).toHaveLength(3);
    expect(out.parts[0].buffer).toBe(input.buffer); // slices of the input, not copies
    expect(Buffer.concat(out.parts).equals(out.bytes)).toBe(true);
    expect(out.signerCpuMs).toBeGreaterThan(0);
    const store = await officialRead(out.bytes);
    expect(store?.validation_state).toBe('Valid');
    // Reused: a second signing goes to the same process.
    const pid = sp.pid;
    await sp.sign(input, 'image/png', manifestFor('a2'), installationIdentity(home));
    expect(sp.pid).toBe(pid);
    expect(sp.starts).toBe(1);
  });

  it('fails a request with SignerCrashedError when the process dies under it, and the next request starts a fresh process', async () => {
    const sp = signer('crash-frame');
    await sp.start();
    const first = sp.pid!;
    const input = await pngFile();
    sp.crashForTest(); // the process kills itself before it reads the request below
    await expect(sp.sign(input, 'image/png', manifestFor('b1'), installationIdentity(home))).rejects.toBeInstanceOf(SignerCrashedError);
    expect(await gone(first)).toBe(true);
    const out = await sp.sign(input, 'image/png', manifestFor('b2'), installationIdentity(home));
    expect(sp.starts).toBe(2);
    expect(sp.pid).not.toBe(first);
    expect((await officialRead(out.bytes))?.validation_state).toBe('Valid');
  });

  it('stops a process that does not answer in time with SignerTimeoutError', async () => {
    const sp = signer('hang-on-sign', { requestTimeoutMs: 300 });
    await sp.start();
    const pid = sp.pid!;
    const t0 = Date.now();
    await expect(sp.sign(await pngFile(), 'image/png', manifestFor('c1'), installationIdentity(home))).rejects.toBeInstanceOf(SignerTimeoutError);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await gone(pid)).toBe(true);
  });

  it('reports SignerUnavailableError when the process does not connect in time', async () => {
    const sp = signer(undefined, { startTimeoutMs: 1 });
    await expect(sp.start()).rejects.toBeInstanceOf(SignerUnavailableError);
  });

  it('ends with close() (app shutdown)', async () => {
    const sp = signer();
    await sp.start();
    const pid = sp.pid!;
    sp.close();
    expect(await gone(pid)).toBe(true);
    expect(sp.pid).toBeUndefined();
  });
});

describe('a save while the signing process fails', () => {
  it('is signed by a fresh process when the first one crashes mid-request (one restart)', async () => {
    const sp = signer('crash-frame');
    await sp.start();
    const provenance = new Provenance(home, { warn: () => undefined, signingProcess: sp });
    sp.crashForTest();
    const out = await provenance.signGeneration(await pngFile(), { id: 'd1', params: { ...params({ width: 64, height: 64 }), createdAt: 1, clipSkip: 1, batchIndex: 0 } as never, disclosure: 'full' });
    expect(out.signed).toBe(true);
    expect(out.warnings.join(' ')).toMatch(/signed again in a fresh signing process/);
    expect(sp.starts).toBe(2);
    expect((await officialRead(out.bytes))?.validation_state).toBe('Valid');
  });

  it('stores the image unsigned, with the reason, when every signing process crashes on it: nothing is lost', async () => {
    const sp = signer('die-on-sign');
    const warnings: string[] = [];
    const provenance = new Provenance(home, { warn: (m) => warnings.push(m), signingProcess: sp });
    const lib = await ProjectLibrary.create(root, 'crashing signer', { provenance, durableWrites: false });
    const g = await lib.addGeneration({ image: testImage(64, 64, 3), params: params({ width: 64, height: 64 }) });
    expect(fs.existsSync(g.imagePath)).toBe(true);
    expect(lib.history({ limit: 5 }).items.map((r) => r.id)).toContain(g.id);
    expect(await officialRead(readBytes(g.imagePath))).toBeNull();
    expect(sp.starts).toBe(2); // the first attempt and exactly one restart
    expect(provenance.lastError).toMatch(/content credentials not written: the signing process/);
    expect(warnings.join('\n')).toMatch(/signing process/);
    lib.close();
  });

  it('signs in this process when no signing process can be started', async () => {
    const provenance = new Provenance(home, { warn: () => undefined, signingProcess: signer(undefined, { startTimeoutMs: 1 }) });
    const out = await provenance.signGeneration(await pngFile(), { id: 'e1', params: { ...params({ width: 64, height: 64 }), createdAt: 1, clipSkip: 1, batchIndex: 0 } as never, disclosure: 'full' });
    expect(out.signed).toBe(true);
    expect(out.signerCpuMs).toBeUndefined();
    expect((await officialRead(out.bytes))?.validation_state).toBe('Valid');
  });
});

describe('insertedBlock', () => {
  it('finds one inserted block, and refuses anything else', () => {
    const input = Buffer.from('0123456789');
    expect(insertedBlock(input, Buffer.from('0123XYZ456789'))).toEqual({ at: 4, block: Buffer.from('XYZ') });
    expect(insertedBlock(input, Buffer.from('0123456789XY'))).toEqual({ at: 10, block: Buffer.from('XY') });
    expect(insertedBlock(input, Buffer.from('X0123456789'))).toEqual({ at: 0, block: Buffer.from('X') });
    expect(insertedBlock(input, Buffer.from('0123XY45678Z'))).toBeNull(); // changed a byte too
    expect(insertedBlock(input, Buffer.from('0123456789'))).toBeNull();
    const big = Buffer.alloc(200_000, 7);
    const grown = Buffer.concat([big.subarray(0, 150_001), Buffer.from('manifest'), big.subarray(150_001)]);
    const found = insertedBlock(big, grown)!;
    // Equal bytes around the block make its position ambiguous; any position that rebuilds the file is right.
    expect(Buffer.concat([big.subarray(0, found.at), found.block, big.subarray(found.at)]).equals(grown)).toBe(true);
  });
});
