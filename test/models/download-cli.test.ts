import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import path from 'node:path';
import { runModelsCommand, type ModelsCliContext } from '../../main/models/cli';
import { startHubServer, sha256, type HubServer } from './helpers/hub-server';
import { REPO, exists, installedFolders, makeTinyPipeline, removeDir, tempDir, tinyCatalogEntry, waitForBytesOnDisk } from './helpers/fixtures';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let files: Record<string, Buffer>;
let server: HubServer;
let root: string;
let ctx: ModelsCliContext;

async function run(args: string[], opts: { isTTY?: boolean; ctx?: Partial<ModelsCliContext> } = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runModelsCommand(args, { stdout, stderr, isTTY: opts.isTTY ?? false }, { ...ctx, ...opts.ctx });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

beforeEach(async () => {
  files = makeTinyPipeline();
  server = await startHubServer({ [REPO]: files, 'someone/not-diffusers': { 'text_encoder.onnx': Buffer.alloc(2000), 'unet.onnx': Buffer.alloc(3000) } }, { throttle: { chunkBytes: 32 * 1024, delayMs: 1 } });
  root = await tempDir('atelier-cli-');
  const catalogPath = path.join(root, 'app/models/catalog.json');
  await mkdir(path.dirname(catalogPath), { recursive: true });
  await writeFile(
    catalogPath,
    JSON.stringify({
      version: 1,
      models: [
        {
          id: 'atelier-demo',
          name: 'Demo',
          kind: 'pipeline',
          revision: 'bundled',
          bundled: true,
          family: 'demo',
          precision: 'fp32',
          providers: ['cpu'],
          license: 'MIT',
          description: 'bundled',
          defaults: { steps: 20, cfg: 5, scheduler: 'euler', width: 64, height: 64 },
          estimates: { diskBytes: 1, memoryBytes: 1 },
          files: [],
        },
        tinyCatalogEntry(files, {
          defaults: { steps: 4, cfg: 7.5, scheduler: 'lcm', width: 512, height: 512 },
          estimates: { diskBytes: 600_000, memoryBytes: 1_000_000 },
          // Approximate sizes, no hashes: the live listing supplies both.
          files: Object.entries(files).map(([p, d]) => ({ path: p, size: Math.round(d.length / 1000) * 1000, sizeApprox: true })),
        }),
        {
          id: 'tiny-taesd',
          name: 'Tiny TAESD',
          kind: 'vae-decoder',
          repo: REPO,
          revision: 'main',
          family: 'taesd',
          precision: 'fp32',
          providers: ['cpu'],
          license: 'mit',
          description: 'aux',
          estimates: { diskBytes: 200_000, memoryBytes: 1 },
          files: [{ path: 'vae_decoder/model.onnx', size: files['vae_decoder/model.onnx'].length }],
        },
      ],
    }),
  );
  ctx = { modelsDir: path.join(root, 'models'), catalogPath, endpoint: server.endpoint, retryBaseMs: 5 };
});

afterEach(async () => {
  await server.close();
  await removeDir(root);
});

describe('atelier models pull', () => {
  it('pulls a catalog model with line logs when not on a TTY, verifying against the live listing', async () => {
    const r = await run(['pull', 'tiny']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Pulling Tiny SD (${REPO}@main): 7 files`);
    expect(r.stderr).toContain('✓ unet/model.onnx');
    expect(r.stderr).not.toContain('\r');
    expect(r.stdout).toContain('Installed Tiny SD as "tiny"');
    const manifest = JSON.parse(await readFile(path.join(ctx.modelsDir, 'tiny/atelier-model.json'), 'utf8'));
    expect(manifest).toMatchObject({ catalogId: 'tiny', family: 'sd1', defaults: { steps: 4, guidanceScale: 7.5, scheduler: 'LCMScheduler' } });
    // Exact sizes and LFS sha256 came from the hub listing.
    expect(manifest.files.find((f: { path: string }) => f.path === 'unet/model.onnx')).toEqual({ path: 'unet/model.onnx', size: files['unet/model.onnx'].length, sha256: sha256(files['unet/model.onnx']) });

    const list = await run(['list']);
    expect(list.stdout).toMatch(/tiny\s+Tiny SD/);
    expect(list.stdout).toMatch(/atelier-demo/);
  });

  it('pulls auxiliary models (TAESD, upscalers) without the pipeline loader', async () => {
    const r = await run(['pull', 'tiny-taesd'], {
      ctx: {
        validate: async () => {
          throw new Error('not a pipeline');
        },
      },
    });
    expect(r.code).toBe(0);
    const manifest = JSON.parse(await readFile(path.join(ctx.modelsDir, 'tiny-taesd/atelier-model.json'), 'utf8'));
    expect(manifest).toMatchObject({ kind: 'vae-decoder', family: 'taesd' });
    expect((await run(['list', '--json'])).stdout).toContain('"kind": "vae-decoder"');
  });

  it('records the detected family for a repo pulled by URL', async () => {
    await run(['pull', `${server.endpoint}/${REPO}`, '--id', 'by-repo']);
    const manifest = JSON.parse(await readFile(path.join(ctx.modelsDir, 'by-repo/atelier-model.json'), 'utf8'));
    expect(manifest).toMatchObject({ family: 'sd1', repo: REPO, name: REPO });
  });

  it('draws a progress bar on a TTY', async () => {
    const r = await run(['pull', 'tiny'], { isTTY: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\r\[[#.]+\]\s+\d+%/);
    expect(r.stderr).toMatch(/ETA/);
  });

  it('emits NDJSON with --json', async () => {
    const r = await run(['pull', 'tiny', '--json']);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ event: 'start', id: 'tiny', files: 7 });
    expect(events.filter((e) => e.event === 'file')).toHaveLength(7);
    expect(events.at(-1)).toMatchObject({ event: 'done', id: 'tiny' });
  });

  it('pulls any hub repo by id or URL after checking its layout', async () => {
    const r = await run(['pull', `${server.endpoint}/${REPO}/tree/main`, '--id', 'from-url']);
    expect(r.code).toBe(0);
    expect(await exists(path.join(ctx.modelsDir, 'from-url/unet/model.onnx'))).toBe(true);
  });

  it('refuses a repo that is not a diffusers-ONNX pipeline before downloading anything', async () => {
    const r = await run(['pull', 'someone/not-diffusers']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not a diffusers-ONNX model');
    expect(r.stderr).toContain('missing unet/model.onnx');
    expect(server.requests).toHaveLength(0);
    expect(await installedFolders(ctx.modelsDir)).toEqual([]);
  });

  it('explains a gated repo and works with --token', async () => {
    server.hooks.requireToken = 'hf_abc';
    const r = await run(['pull', 'tiny']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/gated repo: set a token/);
    const ok = await run(['pull', 'tiny', '--token', 'hf_abc']);
    expect(ok.code).toBe(0);
  });

  it('is interrupted like Ctrl-C and resumes on the next run', async () => {
    server.hooks.stallAfter.set('unet/model.onnx', 100_000);
    const ac = new AbortController();
    const first = run(['pull', 'tiny'], { ctx: { signal: ac.signal, concurrency: 1 } });
    await server.waitForStall('unet/model.onnx');
    await waitForBytesOnDisk(path.join(ctx.modelsDir, '.staging/tiny/unet/model.onnx.part'), 100_000);
    ac.abort();
    const r1 = await first;
    expect(r1.code).toBe(130);
    expect(r1.stderr).toContain('run the same command again to resume');
    expect(await installedFolders(ctx.modelsDir)).toEqual([]);

    const r2 = await run(['pull', 'tiny']);
    expect(r2.code).toBe(0);
    expect(r2.stderr).toContain('Resuming Tiny SD');
    expect(server.bytesServed('unet/model.onnx')).toBe(files['unet/model.onnx'].length);
  });

  it('fails clearly on a disk that is too small', async () => {
    const r = await run(['pull', 'tiny'], { ctx: { freeBytes: async () => 1000 } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not enough disk space/);
  });

  it('says the bundled demo needs no download, and rejects unknown names', async () => {
    expect((await run(['pull', 'atelier-demo'])).stdout).toContain('ships with Atelier');
    const bad = await run(['pull', 'no such thing']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('neither a catalog id nor a hub repo');
  });
});

describe('atelier models import / remove / list', () => {
  it('imports by reference and by copy, lists, then removes', async () => {
    const src = path.join(root, 'user-model');
    for (const [p, d] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), d);
    }
    const validated: string[] = [];
    const withValidate = { validate: async (f: string) => void validated.push(f) };
    expect((await run(['import', src], { ctx: withValidate })).stdout).toContain('by reference');
    expect((await run(['import', src, '--copy', '--id', 'user-copy'], { ctx: withValidate })).code).toBe(0);
    expect(validated).toHaveLength(2);

    const list = JSON.parse((await run(['list', '--json'])).stdout);
    expect(list.installed.map((m: { id: string; source: string }) => [m.id, m.source])).toEqual([
      ['atelier-demo', 'bundled'],
      ['user-copy', 'import-copy'],
      ['user-model', 'import-reference'],
    ]);
    expect(list.available.map((m: { id: string }) => m.id)).toEqual(['tiny', 'tiny-taesd']);

    expect((await run(['remove', 'user-model'])).stdout).toContain('left untouched');
    expect((await run(['remove', 'user-copy'])).code).toBe(0);
    expect(await exists(path.join(src, 'unet/model.onnx'))).toBe(true);
    const gone = await run(['remove', 'user-copy']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('no installed model "user-copy"');
  });

  it('shows exactly what is wrong with a folder that cannot be imported', async () => {
    const src = path.join(root, 'half');
    await mkdir(path.join(src, 'unet'), { recursive: true });
    await writeFile(path.join(src, 'model_index.json'), '{}');
    const r = await run(['import', src]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('missing unet/model.onnx');
    expect(r.stderr).toContain('missing text_encoder/model.onnx');
  });

  it('prints usage for bad invocations', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['frobnicate'])).stderr).toContain('unknown models command');
    expect((await run(['pull'])).code).toBe(2);
    expect((await run(['pull', 'tiny', '--bogus'])).code).toBe(2);
  });
});
