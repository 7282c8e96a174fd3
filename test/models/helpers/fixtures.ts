import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomFile, sha256 } from './hub-server';
import type { DownloadFileSpec, DownloadRequest } from '../../../main/models/downloader';

export const REPO = 'atelier-test/tiny-sd';

/** A tiny diffusers-ONNX layout: small JSON/tokenizer files and a few hundred KB of "graphs". */
export function makeTinyPipeline(sizes: Partial<Record<string, number>> = {}): Record<string, Buffer> {
  const json = (o: unknown) => Buffer.from(JSON.stringify(o, null, 2));
  return {
    'model_index.json': json({
      _class_name: 'OnnxStableDiffusionPipeline',
      scheduler: ['diffusers', 'EulerDiscreteScheduler'],
      text_encoder: ['diffusers', 'OnnxRuntimeModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      unet: ['diffusers', 'OnnxRuntimeModel'],
      vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
    }),
    'scheduler/scheduler_config.json': json({ _class_name: 'EulerDiscreteScheduler', num_train_timesteps: 1000 }),
    'tokenizer/vocab.json': json({ '<|startoftext|>': 49406, '<|endoftext|>': 49407, a: 320 }),
    'tokenizer/merges.txt': Buffer.from('#version: 0.2\na b\n'),
    'text_encoder/model.onnx': randomFile(sizes['text_encoder/model.onnx'] ?? 120_000),
    'unet/model.onnx': randomFile(sizes['unet/model.onnx'] ?? 300_000),
    'vae_decoder/model.onnx': randomFile(sizes['vae_decoder/model.onnx'] ?? 150_000),
  };
}

export function specsFor(files: Record<string, Buffer>, opts: { withHashes?: boolean } = {}): DownloadFileSpec[] {
  return Object.entries(files).map(([p, data]) => ({ path: p, size: data.length, ...(opts.withHashes !== false ? { sha256: sha256(data) } : {}) }));
}

export function requestFor(files: Record<string, Buffer>, id = 'tiny-sd', extra: Partial<DownloadRequest> = {}): DownloadRequest {
  return { id, repo: REPO, revision: 'main', files: specsFor(files), manifest: { name: 'Tiny SD' }, ...extra };
}

export async function tempDir(prefix = 'atelier-models-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Folders directly under modelsDir, excluding the staging area. */
export async function installedFolders(modelsDir: string): Promise<string[]> {
  const entries = await readdir(modelsDir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
}

/** Polls `cond` every 20 ms until it holds; rejects with `why()` after `timeoutMs` (a bounded wait on a condition, not a fixed sleep). */
export async function waitUntil(cond: () => Promise<boolean> | boolean, timeoutMs: number, why: () => string = () => `condition not met within ${timeoutMs} ms`): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves once `file` holds at least `bytes` bytes on disk (bounded poll). */
export function waitForBytesOnDisk(file: string, bytes: number, timeoutMs = 20_000): Promise<void> {
  return waitUntil(
    async () => ((await stat(file).catch(() => null))?.size ?? 0) >= bytes,
    timeoutMs,
    () => `${file} never reached ${bytes} bytes within ${timeoutMs} ms`,
  );
}

/** The catalog entry for the tiny pipeline served by the loopback hub (tests override what they vary). */
export function tinyCatalogEntry(files: Record<string, Buffer>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'tiny',
    name: 'Tiny SD',
    kind: 'pipeline',
    repo: REPO,
    revision: 'main',
    family: 'sd1',
    precision: 'fp32',
    providers: ['cpu'],
    license: 'mit',
    description: 'test',
    defaults: { steps: 4, cfg: 1, scheduler: 'euler', width: 512, height: 512 },
    estimates: { diskBytes: 600_000, memoryBytes: 1 },
    files: specsFor(files).map(({ path: p, size }) => ({ path: p, size })),
    ...overrides,
  };
}
