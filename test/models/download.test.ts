import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DownloadError, ModelDownloader, type DownloadProgress, type DownloaderOptions } from '../../main/models/downloader';
import { HubClient, parseRepoRef } from '../../main/models/hub-client';
import { ModelStore } from '../../main/models/model-store';
import { mkdir, writeFile } from 'node:fs/promises';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sha256, startHubServer, type HubServer } from './helpers/hub-server';
import { REPO, exists, installedFolders, makeTinyPipeline, removeDir, requestFor, tempDir, waitForBytesOnDisk } from './helpers/fixtures';

let files: Record<string, Buffer>;
let server: HubServer;
let modelsDir: string;
/** Child processes a test started and has not seen exit yet: killed after the test, whatever happened. */
const children = new Set<ChildProcess>();
const DOWNLOAD_CHILD = fileURLToPath(new URL('./helpers/download-child.ts', import.meta.url));


function downloader(opts: Partial<DownloaderOptions> = {}): ModelDownloader {
  return new ModelDownloader({ modelsDir, endpoint: server.endpoint, retryBaseMs: 5, retryMaxMs: 50, progressIntervalMs: 0, ...opts });
}

async function expectNothingInstalled(id = 'tiny-sd'): Promise<void> {
  expect(await installedFolders(modelsDir)).toEqual([]);
  expect(await exists(path.join(modelsDir, id))).toBe(false);
}

async function expectInstalledExactly(id = 'tiny-sd'): Promise<void> {
  const dir = path.join(modelsDir, id);
  for (const [p, data] of Object.entries(files)) {
    const got = await readFile(path.join(dir, p));
    expect(got.equals(data), `${p} content`).toBe(true);
  }
  const manifest = JSON.parse(await readFile(path.join(dir, 'atelier-model.json'), 'utf8'));
  expect(manifest).toMatchObject({ id, source: 'download', repo: REPO, revision: 'main', kind: 'pipeline' });
  // No leftovers from the transfer.
  const all = await readdir(dir, { recursive: true });
  expect(all.filter((f) => String(f).endsWith('.part') || String(f).includes('.atelier-download'))).toEqual([]);
  expect(await exists(path.join(modelsDir, '.staging', id))).toBe(false);
}

function waitForFileBytes(job: { on: (e: 'progress', cb: (p: DownloadProgress) => void) => unknown; progress: () => DownloadProgress }, file: string, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (p: DownloadProgress) => {
      if ((p.files.find((f) => f.path === file)?.bytesDone ?? 0) >= bytes) resolve();
    };
    job.on('progress', check);
    check(job.progress());
  });
}

beforeEach(async () => {
  files = makeTinyPipeline();
  server = await startHubServer({ [REPO]: files }, { throttle: { chunkBytes: 16 * 1024, delayMs: 2 } });
  modelsDir = await tempDir();
});

afterEach(async () => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  await server.close();
  await removeDir(modelsDir);
});

describe('ModelDownloader', () => {
  it('downloads, verifies, validates and installs atomically (happy path)', async () => {
    const validated: string[] = [];
    const events: DownloadProgress[] = [];
    const dl = downloader({
      validate: async (folder) => {
        validated.push(folder);
        // The folder handed to the validator is complete and still in staging.
        expect(folder).toBe(path.join(modelsDir, '.staging', 'tiny-sd'));
        expect((await stat(path.join(folder, 'unet/model.onnx'))).size).toBe(files['unet/model.onnx'].length);
        expect(await installedFolders(modelsDir)).toEqual([]);
      },
    });
    const result = await dl.download(requestFor(files), { onProgress: (p) => events.push(p) });

    expect(result.path).toBe(path.join(modelsDir, 'tiny-sd'));
    expect(validated).toHaveLength(1);
    await expectInstalledExactly();
    const total = Object.values(files).reduce((n, b) => n + b.length, 0);
    expect(result.bytesTotal).toBe(total);
    expect(result.bytesReceived).toBe(total);
    expect(server.bytesServed()).toBe(total);
    // Progress: monotonic bytes, totals known, per-file detail, ends at done.
    const downloading = events.filter((e) => e.state === 'downloading');
    expect(downloading.length).toBeGreaterThan(3);
    for (let i = 1; i < downloading.length; i++) expect(downloading[i].bytesDone).toBeGreaterThanOrEqual(downloading[i - 1].bytesDone);
    expect(downloading.every((e) => e.bytesTotal === total)).toBe(true);
    expect(events.at(-1)!.state).toBe('done');
    expect(events.at(-1)!.bytesDone).toBe(total);
    expect(events.some((e) => e.rate > 0 && e.etaSeconds !== undefined)).toBe(true);
    expect(events.at(-1)!.files.every((f) => f.state === 'done')).toBe(true);
  });

  it('resumes a file after the connection drops mid-file without re-downloading earlier bytes', async () => {
    const unet = files['unet/model.onnx'];
    server.hooks.dropAfter.set('unet/model.onnx', 100_000);
    await downloader().download(requestFor(files));

    await expectInstalledExactly();
    const reqs = server.requests.filter((r) => r.path === 'unet/model.onnx');
    expect(reqs).toHaveLength(2);
    expect(reqs[0]).toMatchObject({ start: 0, bytes: 100_000, status: 200 });
    expect(reqs[1]).toMatchObject({ start: 100_000, status: 206, range: 'bytes=100000-' });
    expect(server.bytesServed('unet/model.onnx')).toBe(unet.length);
  });

  it('restarts a file cleanly when the server ignores Range', async () => {
    const unet = files['unet/model.onnx'];
    server.hooks.dropAfter.set('unet/model.onnx', 100_000);
    server.hooks.ignoreRange = true;
    await downloader().download(requestFor(files));

    await expectInstalledExactly();
    const reqs = server.requests.filter((r) => r.path === 'unet/model.onnx');
    expect(reqs).toHaveLength(2);
    expect(reqs[1]).toMatchObject({ range: 'bytes=100000-', status: 200, start: 0, bytes: unet.length });
  });

  it('rejects a wrong checksum, cleans the staging folder and says which file', async () => {
    server.hooks.corrupt.add('unet/model.onnx');
    const err = await downloader()
      .download(requestFor(files))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe('checksum');
    expect((err as DownloadError).message).toMatch(/checksum mismatch for unet\/model\.onnx: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}/);
    expect((err as DownloadError).stagingKept).toBe(false);
    expect(await exists(path.join(modelsDir, '.staging', 'tiny-sd'))).toBe(false);
    await expectNothingInstalled();
  });

  it('checks the size when no hash is known', async () => {
    const req = requestFor(files);
    req.files = req.files.map((f) => (f.path === 'vae_decoder/model.onnx' ? { path: f.path, size: f.size! - 10 } : f));
    const err = (await downloader()
      .download(req)
      .catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('size-mismatch');
    expect(err.message).toContain('vae_decoder/model.onnx');
    await expectNothingInstalled();
  });

  it('fails fast with a clear error on 404, without retrying', async () => {
    server.hooks.status.set('unet/model.onnx', 404);
    const err = (await downloader()
      .download(requestFor(files))
      .catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('not-found');
    expect(err.message).toBe(`file not found: ${server.endpoint}/${REPO}/resolve/main/unet/model.onnx`);
    expect(server.requests.filter((r) => r.path === 'unet/model.onnx')).toHaveLength(1);
    await expectNothingInstalled();
  });

  it('reports a gated repo (401) and succeeds once a token is given', async () => {
    server.hooks.requireToken = 'hf_secret';
    const err = (await downloader()
      .download(requestFor(files))
      .catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('gated');
    expect(err.message).toMatch(/gated repo: set a token/);
    await expectNothingInstalled();

    await downloader({ token: 'hf_secret' }).download(requestFor(files));
    await expectInstalledExactly();
  });

  it('retries 5xx with backoff', async () => {
    server.hooks.failTimes.set('unet/model.onnx', { status: 503, times: 2 });
    await downloader().download(requestFor(files));
    await expectInstalledExactly();
    expect(server.requests.filter((r) => r.path === 'unet/model.onnx').map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('gives up after repeated network failures but keeps the partial download', async () => {
    server.hooks.status.set('unet/model.onnx', 500);
    const err = (await downloader({ maxAttempts: 3 })
      .download(requestFor(files))
      .catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('network');
    expect(err.stagingKept).toBe(true);
    expect(server.requests.filter((r) => r.path === 'unet/model.onnx')).toHaveLength(3);
    await expectNothingInstalled();
  });

  it('refuses to start when the disk is too small, before any transfer', async () => {
    const err = (await downloader({ freeBytes: async () => 10_000 })
      .download(requestFor(files))
      .catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('disk-full');
    expect(err.message).toMatch(/not enough disk space/);
    expect(server.requests).toHaveLength(0);
    await expectNothingInstalled();
  });

  it('handles ENOSPC mid-write: keeps the partial, then resumes once space is back', async () => {
    let written = 0;
    const full = downloader({
      concurrency: 1,
      writeChunk: async (fh, chunk, position) => {
        if (written + chunk.length > 200_000) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        written += chunk.length;
        await fh.write(chunk, 0, chunk.length, position);
      },
    });
    const err = (await full.download(requestFor(files)).catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('disk-full');
    expect(err.message).toMatch(/disk full while writing/);
    expect(err.stagingKept).toBe(true);
    await expectNothingInstalled();

    const servedBefore = server.bytesServed();
    await downloader().download(requestFor(files));
    await expectInstalledExactly();
    const total = Object.values(files).reduce((n, b) => n + b.length, 0);
    // Only what had not been written is fetched again (plus at most the chunk that failed to write).
    expect(server.bytesServed() - servedBefore).toBeLessThanOrEqual(total - written + 16 * 1024);
  });

  it('resumes after the app quits (aborts) mid-download, with a new downloader instance', async () => {
    const unet = files['unet/model.onnx'];
    server.hooks.stallAfter.set('unet/model.onnx', 120_000);
    const app = new AbortController();
    // One file at a time, small ones first: everything but the UNet is finished when it stalls.
    const job = downloader({ concurrency: 1 }).start(requestFor(files), { signal: app.signal });
    await server.waitForStall('unet/model.onnx');
    await waitForFileBytes(job, 'unet/model.onnx', 120_000);
    app.abort(); // the app quits
    const err = (await job.done.catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('aborted');
    expect((await stat(path.join(modelsDir, '.staging/tiny-sd/unet/model.onnx.part'))).size).toBe(120_000);
    expect(await exists(path.join(modelsDir, '.staging/tiny-sd/.atelier-download.json'))).toBe(true);
    await expectNothingInstalled();

    // "Restart": a fresh downloader over the same models folder.
    const result = await downloader({ concurrency: 1 }).download(requestFor(files));
    expect(result.bytesReceived).toBe(unet.length - 120_000);
    await expectInstalledExactly();
    const reqs = server.requests.filter((r) => r.path === 'unet/model.onnx');
    expect(reqs.at(-1)).toMatchObject({ start: 120_000, status: 206 });
    expect(server.bytesServed('unet/model.onnx')).toBe(unet.length);
    // Files finished before the kill were not fetched again.
    for (const p of Object.keys(files)) expect(server.requests.filter((r) => r.path === p && r.status < 300).length, p).toBeLessThanOrEqual(p === 'unet/model.onnx' ? 2 : 1);

  });

  it('resumes after the app process is SIGKILLed mid-download, with the file hash intact', async () => {
    const unet = files['unet/model.onnx'];
    const STALL = 120_000;
    server.hooks.stallAfter.set('unet/model.onnx', STALL);
    const requestFile = path.join(modelsDir, 'request.json');
    await writeFile(requestFile, JSON.stringify(requestFor(files)));
    // A real second process downloads (one file at a time, small ones first) from the loopback hub.
    const app = spawn(process.execPath, ['--import', 'tsx', DOWNLOAD_CHILD, modelsDir, server.endpoint, requestFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(app);
    let output = '';
    app.stdout!.on('data', (d) => (output += d));
    app.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => app.on('exit', (code, signal) => resolve({ code, signal })));
    const early = exited.then((e) => {
      throw new Error(`download process ended before the kill (${JSON.stringify(e)}): ${output}`);
    });

    // Mid-download: the hub has sent the UNet's first 120 kB and holds the connection open; kill
    // once those bytes are on disk (bounded poll, no fixed sleep).
    const part = path.join(modelsDir, '.staging/tiny-sd/unet/model.onnx.part');
    await Promise.race([server.waitForStall('unet/model.onnx'), early]);
    await Promise.race([waitForBytesOnDisk(part, STALL).catch((e: Error) => Promise.reject(new Error(`${e.message}; child said: ${output}`))), early]);
    early.catch(() => {}); // from here on, the exit is ours
    expect(app.kill('SIGKILL')).toBe(true);
    expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
    children.delete(app);

    expect((await stat(part)).size).toBe(STALL);
    expect(await exists(path.join(modelsDir, '.staging/tiny-sd/.atelier-download.json'))).toBe(true);
    // The dead process's lock is still there; the resuming downloader must take it over.
    expect(JSON.parse(await readFile(path.join(modelsDir, '.staging/tiny-sd/.lock'), 'utf8')).pid).toBe(app.pid);
    await expectNothingInstalled();

    // Restart: resume in this process with a fresh downloader over the same models folder.
    const result = await downloader({ concurrency: 1 }).download(requestFor(files));
    expect(result.bytesReceived).toBe(unet.length - STALL);
    const installed = await readFile(path.join(modelsDir, 'tiny-sd', 'unet/model.onnx'));
    expect(sha256(installed)).toBe(sha256(unet));
    await expectInstalledExactly();
    const reqs = server.requests.filter((r) => r.path === 'unet/model.onnx');
    expect(reqs.at(-1)).toMatchObject({ start: STALL, status: 206 });
    expect(server.bytesServed('unet/model.onnx')).toBe(unet.length);
    // Files the killed process finished were not fetched again.
    for (const p of Object.keys(files)) expect(server.requests.filter((r) => r.path === p && r.status < 300).length, p).toBeLessThanOrEqual(p === 'unet/model.onnx' ? 2 : 1);
  });

  it('restarts from scratch when the staging folder was for a different file list', async () => {
    server.hooks.stallAfter.set('unet/model.onnx', 50_000);
    const app = new AbortController();
    const job = downloader().start(requestFor(files), { signal: app.signal });
    await server.waitForStall('unet/model.onnx');
    await waitForFileBytes(job, 'unet/model.onnx', 50_000);
    app.abort();
    await job.done.catch(() => {});
    const newFiles = makeTinyPipeline();
    await server.close();
    server = await startHubServer({ [REPO]: newFiles });
    files = newFiles;
    await downloader().download(requestFor(newFiles, 'tiny-sd', { revision: 'main' }));
    await expectInstalledExactly();
    expect(server.requests.filter((r) => r.path === 'unet/model.onnx')[0].start).toBe(0);
  });

  it('a kill during validation resumes without downloading again', async () => {
    const app = new AbortController();
    const first = downloader({
      validate: async () => {
        app.abort(); // the app quits while the engine is still loading the model
      },
    });
    const err = (await first.download(requestFor(files), { signal: app.signal }).catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('aborted');
    await expectNothingInstalled();
    const requestsBefore = server.requests.length;
    let validated = 0;
    await downloader({ validate: async () => void validated++ }).download(requestFor(files));
    expect(server.requests.length).toBe(requestsBefore);
    expect(validated).toBe(1);
    await expectInstalledExactly();
  });

  it('installs nothing when validation fails, and cleans staging', async () => {
    const err = (await downloader({
      validate: async () => {
        throw new Error('unet/model.onnx: Could not find an implementation for GroupNorm(1)');
      },
    })
      .download(requestFor(files))
      .catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('validation');
    expect(err.message).toContain('GroupNorm');
    expect(await exists(path.join(modelsDir, '.staging', 'tiny-sd'))).toBe(false);
    await expectNothingInstalled();
  });

  it('refuses files that do not form a diffusers pipeline', async () => {
    const req = requestFor(files);
    req.files = req.files.filter((f) => f.path !== 'vae_decoder/model.onnx');
    const err = (await downloader()
      .download(req)
      .catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('validation');
    expect(err.message).toContain('missing vae_decoder/model.onnx');
    await expectNothingInstalled();
  });

  it('respects the concurrency limit', async () => {
    const many: Record<string, Buffer> = { ...files };
    for (let i = 0; i < 4; i++) many[`unet/extra_${i}.bin.onnx_data`] = files['unet/model.onnx'].subarray(0, 100_000 + i);
    await server.close();
    server = await startHubServer({ [REPO]: many }, { throttle: { chunkBytes: 8 * 1024, delayMs: 3 } });
    files = many;
    const job = downloader({ concurrency: 2 }).start(requestFor(many));
    let active = 0;
    let maxActive = 0;
    job.on('file', (f) => {
      if (f.state === 'downloading') maxActive = Math.max(maxActive, ++active);
      if (f.state === 'verifying') active--;
    });
    await job.done;
    await expectInstalledExactly();
    expect(maxActive).toBe(2);
    expect(server.maxConcurrent).toBeLessThanOrEqual(2);
    expect(server.maxConcurrent).toBeGreaterThanOrEqual(1);
  });

  it('pauses and resumes without re-downloading', async () => {
    const unet = files['unet/model.onnx'];
    server.hooks.stallAfter.set('unet/model.onnx', 80_000);
    const job = downloader().start(requestFor(files));
    const states: string[] = [];
    job.on('state', (s) => states.push(s));
    await server.waitForStall('unet/model.onnx');
    await waitForFileBytes(job, 'unet/model.onnx', 80_000);
    job.pause();
    await new Promise<void>((r) => job.on('state', (s) => s === 'paused' && r()));
    expect(job.state).toBe('paused');
    job.resume();
    await job.done;
    await expectInstalledExactly();
    expect(states).toContain('paused');
    expect(server.bytesServed('unet/model.onnx')).toBe(unet.length);
  });

  it('cancel deletes the partial download', async () => {
    server.hooks.stallAfter.set('unet/model.onnx', 80_000);
    const job = downloader().start(requestFor(files));
    await server.waitForStall('unet/model.onnx');
    job.cancel();
    const err = (await job.done.catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('cancelled');
    expect(job.state).toBe('cancelled');
    expect(await exists(path.join(modelsDir, '.staging', 'tiny-sd'))).toBe(false);
    await expectNothingInstalled();
  });

  it('will not overwrite an installed model unless asked to replace it', async () => {
    await downloader().download(requestFor(files));
    const err = (await downloader()
      .download(requestFor(files))
      .catch((e: unknown) => e)) as DownloadError;
    expect(err.code).toBe('already-installed');
    await downloader().download(requestFor(files, 'tiny-sd', { replace: true }));
    await expectInstalledExactly();
  });
});

describe('ModelDownloader: one download per model', () => {
  it('refuses a second concurrent download of the same model and leaves the first intact', async () => {
    const a = downloader();
    const b = downloader();
    const results = await Promise.allSettled([a.download(requestFor(files)), b.download(requestFor(files))]);
    const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(rejected).toHaveLength(1);
    expect(rejected[0].reason).toMatchObject({ code: 'in-progress' });
    expect((rejected[0].reason as Error).message).toMatch(/already being downloaded/);
    await expectInstalledExactly();
  });

  it('returns the running job when the same id is started twice on one downloader', async () => {
    const dl = downloader();
    const j1 = dl.start(requestFor(files));
    const j2 = dl.start(requestFor(files));
    expect(j2).toBe(j1);
    expect(dl.activeJobs()).toEqual([j1]);
    await j1.done;
    expect(dl.activeJobs()).toEqual([]);
  });

  it('takes over a lock left by a process that died', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    await mkdir(path.join(modelsDir, '.staging/tiny-sd'), { recursive: true });
    await writeFile(path.join(modelsDir, '.staging/tiny-sd/.lock'), JSON.stringify({ pid: dead }));
    await downloader().download(requestFor(files));
    await expectInstalledExactly();
  });

  it('ModelStore.remove will not discard a download that is running', async () => {
    server.hooks.stallAfter.set('unet/model.onnx', 50_000);
    const job = downloader().start(requestFor(files));
    await server.waitForStall('unet/model.onnx');
    await expect(new ModelStore({ modelsDir }).remove('tiny-sd')).rejects.toThrow(/being downloaded right now/);
    job.cancel();
    await job.done.catch(() => {});
    await expectNothingInstalled();
  });
});

describe('HubClient', () => {
  it('follows hub redirects to a CDN, keeping Range for resumes', async () => {
    server.hooks.redirect = true;
    server.hooks.dropAfter.set('unet/model.onnx', 100_000);
    await downloader().download(requestFor(files));
    await expectInstalledExactly();
    const reqs = server.requests.filter((r) => r.path === 'unet/model.onnx');
    expect(reqs.map((r) => r.start)).toEqual([0, 100_000]);
  });

  it('follows paginated tree listings and skips directories', async () => {
    server.hooks.treePageSize = 3;
    const list = await new HubClient({ endpoint: server.endpoint }).listRepoFiles(REPO, 'main');
    expect(list.map((f) => f.path)).toEqual(Object.keys(files).sort());
  });

  it('falls back to the revision API on mirrors without the tree API', async () => {
    server.hooks.noTreeApi = true;
    const list = await new HubClient({ endpoint: server.endpoint }).listRepoFiles(REPO, 'main');
    expect(list.map((f) => f.path)).toEqual(Object.keys(files).sort());
    expect(list.find((f) => f.path === 'unet/model.onnx')?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('parses repo ids and hub URLs', () => {
    expect(parseRepoRef('SimianLuo/LCM_Dreamshaper_v7')).toEqual({ repo: 'SimianLuo/LCM_Dreamshaper_v7' });
    expect(parseRepoRef('https://huggingface.co/stabilityai/sdxl-turbo/tree/main/unet')).toEqual({ repo: 'stabilityai/sdxl-turbo', revision: 'main' });
    expect(parseRepoRef('https://hf-mirror.com/stabilityai/sdxl-turbo')).toEqual({ repo: 'stabilityai/sdxl-turbo' });
    expect(parseRepoRef('not a repo')).toBeUndefined();
  });

  it('lists repo files with sizes and LFS sha256', async () => {
    const hub = new HubClient({ endpoint: server.endpoint });
    const list = await hub.listRepoFiles(REPO, 'main');
    expect(list.map((f) => f.path)).toEqual(Object.keys(files).sort());
    const unet = list.find((f) => f.path === 'unet/model.onnx')!;
    expect(unet.size).toBe(files['unet/model.onnx'].length);
    expect(unet.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(list.find((f) => f.path === 'tokenizer/merges.txt')!.sha256).toBeUndefined();
  });

  it('builds resolve URLs with encoded revisions and paths', () => {
    const hub = new HubClient({ endpoint: 'https://mirror.example/' });
    expect(hub.resolveUrl('a/b', 'refs/pr/1', 'unet/model one.onnx')).toBe('https://mirror.example/a/b/resolve/refs%2Fpr%2F1/unet/model%20one.onnx');
  });

  it('reports a missing repo as not found', async () => {
    const hub = new HubClient({ endpoint: server.endpoint });
    await expect(hub.listRepoFiles('nobody/nothing', 'main')).rejects.toMatchObject({ code: 'not-found' });
  });
});
