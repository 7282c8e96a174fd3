/**
 * Offline model pulls: when the hub's host cannot be reached at all — no DNS answer (a host under
 * `.invalid`, RFC 2606, never resolves) or nobody listening (a loopback port that refuses) — a pull
 * says "No connection to <host> — you appear to be offline" within 2 s, instead of six retries with
 * backoff and a raw ENOTFOUND. The failed download stays listed (API `listDownloads`) with its
 * reason and a Retry, and Retry resumes once the hub is reachable. Never the real internet.
 */
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiClient } from '../../common/api/client';
import { AtelierApiError } from '../../common/api/contract';
import { createDispatcher } from '../../main/api/dispatch';
import { createBackend } from '../../main/app/create-backend';
import { HubClient, HubError } from '../../main/models/hub-client';
import { DownloadError, ModelDownloader } from '../../main/models/downloader';
import { ModelManager } from '../../main/models/manager';
import { startHubServer, type HubServer } from './helpers/hub-server';
import { REPO, exists, installedFolders, makeTinyPipeline, removeDir, requestFor, specsFor, tempDir } from './helpers/fixtures';

const OFFLINE = /^No connection to (\S+) — you appear to be offline$/;

/** A loopback port nobody listens on (connections are refused). */
async function refusedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Forwards a loopback port to the fixture hub: "the network is back". close() cuts every connection. */
async function forward(port: number, to: HubServer): Promise<{ close(): Promise<void> }> {
  const target = Number(new URL(to.endpoint).port);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function elapsed<T>(p: Promise<T>): Promise<{ ms: number; error: unknown }> {
  const t = Date.now();
  const error = await p.then(() => null, (e: unknown) => e);
  return { ms: Date.now() - t, error };
}

describe('HubClient: a host that cannot be reached is "offline", in one sentence', () => {
  it('an unresolvable host (.invalid) fails at once with the offline sentence, no raw ENOTFOUND', async () => {
    const hub = new HubClient({ endpoint: 'https://huggingface.invalid' });
    const { ms, error } = await elapsed(hub.listRepoFiles('owner/name'));
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe('offline');
    expect((error as HubError).retryable).toBe(false);
    expect((error as HubError).message).toBe('No connection to huggingface.invalid — you appear to be offline');
    expect((error as HubError).message).not.toMatch(/ENOTFOUND|fetch failed/);
    expect(ms).toBeLessThan(2000);
  });

  it('a refused loopback port is offline too', async () => {
    const port = await refusedPort();
    const error = (await new HubClient({ endpoint: `http://127.0.0.1:${port}` }).openFile('o/n', 'main', 'x.json').catch((e: unknown) => e)) as HubError;
    expect(error.code).toBe('offline');
    expect(error.message).toBe(`No connection to 127.0.0.1:${port} — you appear to be offline`);
  });
});

describe('downloads while offline', () => {
  let root: string;
  let server: HubServer;
  let files: Record<string, Buffer>;
  beforeEach(async () => {
    root = await tempDir('atelier-offline-');
    files = makeTinyPipeline();
    server = await startHubServer({ [REPO]: files });
  });
  afterEach(async () => {
    await server.close();
    await removeDir(root);
  });

  it('a download fails within 2 s with the offline sentence, not after six retries with backoff', async () => {
    // Default retry policy (6 attempts, 500 ms base backoff): being offline must skip it.
    const dl = new ModelDownloader({ modelsDir: path.join(root, 'models'), endpoint: 'https://huggingface.invalid' });
    const { ms, error } = await elapsed(dl.download(requestFor(files)));
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as DownloadError).code).toBe('offline');
    expect((error as DownloadError).message).toMatch(OFFLINE);
    expect((error as DownloadError).stagingKept).toBe(true);
    expect(ms).toBeLessThan(2000);
  });

  it('the manager keeps a failed pull with its reason; Retry pulls it again once the hub is back', async () => {
    const catalogPath = path.join(root, 'catalog.json');
    writeFileSync(
      catalogPath,
      JSON.stringify({
        version: 1,
        models: [
          {
            id: 'tiny', name: 'Tiny SD', kind: 'pipeline', repo: REPO, revision: 'main', family: 'sd1', precision: 'fp32', providers: ['cpu'],
            license: 'mit', description: 'test', defaults: { steps: 4, cfg: 1, scheduler: 'euler', width: 512, height: 512 },
            estimates: { diskBytes: 600_000, memoryBytes: 1 }, files: specsFor(files).map(({ path: p, size }) => ({ path: p, size })),
          },
        ],
      }),
    );
    const port = await refusedPort();
    const m = new ModelManager({ modelsDir: path.join(root, 'models'), catalogPath, endpoint: `http://127.0.0.1:${port}` });

    const { ms, error } = await elapsed(m.pull('tiny'));
    expect(ms).toBeLessThan(2000);
    expect((error as Error).message).toBe(`No connection to 127.0.0.1:${port} — you appear to be offline`);
    expect(m.failedDownloads()).toMatchObject([{ modelId: 'tiny', source: 'tiny', code: 'offline', resumable: false }]);

    // The connection comes back: Retry pulls it (and the failed row goes away).
    const link = await forward(port, server);
    try {
      const finished = new Promise<void>((resolve) => m.once('download-finished', () => resolve()));
      await m.resume('tiny');
      expect(m.failedDownloads()).toEqual([]);
      await finished;
      expect(await installedFolders(path.join(root, 'models'))).toEqual(['tiny']);
    } finally {
      await link.close();
    }
  });

  it('a connection lost mid-download fails fast once the host refuses, keeps the partial files, and Retry resumes them', async () => {
    const catalogPath = path.join(root, 'catalog.json');
    writeFileSync(catalogPath, JSON.stringify({ version: 1, models: [] }));
    const port = await refusedPort();
    let link = await forward(port, server);
    const m = new ModelManager({ modelsDir: path.join(root, 'models'), catalogPath, endpoint: `http://127.0.0.1:${port}`, concurrency: 1 });
    server.hooks.stallAfter.set('unet/model.onnx', 100_000);
    server.hooks.throttle = { chunkBytes: 16 * 1024, delayMs: 5 };
    const failed = new Promise<{ code: string; message: string; resumable: boolean }>((resolve) => m.once('download-failed', resolve));
    const { job } = await m.pull(`${REPO}`, { id: 'tiny-hub' });
    // Wait until part of the unet is on disk (the stall keeps the rest from coming).
    await server.waitForStall('unet/model.onnx');
    await expect.poll(() => job.progress().files.find((x) => x.path === 'unet/model.onnx')?.bytesDone ?? 0, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0);
    const t = Date.now();
    await link.close(); // the network goes away in the middle of a file
    const f = await failed;
    expect(Date.now() - t).toBeLessThan(2000);
    expect(f).toMatchObject({ code: 'offline', resumable: true });
    expect(f.message).toMatch(OFFLINE);
    expect(m.failedDownloads()).toMatchObject([{ modelId: 'tiny-hub', resumable: true, source: REPO }]);
    expect(m.failedDownloads()[0]!.bytesDone).toBeGreaterThan(0);
    expect(await exists(path.join(root, 'models', '.staging', 'tiny-hub'))).toBe(true);

    link = await forward(port, server);
    try {
      const served = server.bytesServed('unet/model.onnx');
      const finished = new Promise<void>((resolve) => m.once('download-finished', () => resolve()));
      await m.resume('tiny-hub');
      await finished;
      // Resumed with Range: the unet was not sent again from its first byte.
      expect(server.bytesServed('unet/model.onnx') - served).toBeLessThan(files['unet/model.onnx']!.length);
    } finally {
      await link.close();
    }
  });
});

describe('API: failed downloads stay listed with Retry, across a reload', () => {
  let home: string;
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('pullModel answers offline within 2 s; listDownloads keeps the failed row until it is cancelled', async () => {
    home = mkdtempSync(path.join(tmpdir(), 'atelier-offline-api-'));
    const port = await refusedPort();
    const backend = await createBackend({ userDataDir: home, imageUrlBase: '/', hubEndpoint: `http://127.0.0.1:${port}` });
    try {
      const dispatch = createDispatcher(backend.api);
      const client = createApiClient({ call: (m, p) => dispatch(m, p), onEvent: (l) => backend.onEvent(l) });
      const { ms, error } = await elapsed(client.pullModel({ source: 'taesd' }));
      expect(ms).toBeLessThan(2000);
      expect(error).toBeInstanceOf(AtelierApiError);
      expect((error as AtelierApiError).message).toBe(`No connection to 127.0.0.1:${port} — you appear to be offline`);

      // A reloaded window asks again: the failure is still there, with what Retry would pull.
      const rows = await client.listDownloads();
      expect(rows).toEqual([
        expect.objectContaining({ modelId: 'taesd', state: 'failed', source: 'taesd', resumable: false, error: expect.objectContaining({ message: expect.stringMatching(OFFLINE) }) }),
      ]);
      // Retry while still offline: the same clear answer, the row stays.
      await expect(client.resumeDownload({ modelId: 'taesd' })).rejects.toThrow(OFFLINE);
      expect((await client.listDownloads()).map((d) => d.modelId)).toEqual(['taesd']);
      expect((await client.listCatalog()).find((c) => c.id === 'taesd')?.installed).toBe(false);
      await client.cancelDownload({ modelId: 'taesd' });
      expect(await client.listDownloads()).toEqual([]);
    } finally {
      await backend.close();
    }
  });
});
