/** `atelier models doctor <id|folder|file> [--provider P] [--size WxH] [--json]` over the engine's doctor. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelDoctorReport } from '../../common/model-doctor';
import { doctorModel, parseProviderChoice } from '../../main/engine';
import { runModelsCommand, type ModelsCliContext } from '../../main/models/cli';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

const modelsDir = mkdtempSync(path.join(os.tmpdir(), 'atelier-doctor-cli-'));
afterAll(() => rmSync(modelsDir, { recursive: true, force: true }));
const calls: Array<{ target: string; opts: Record<string, unknown> }> = [];
const ctx: ModelsCliContext = {
  modelsDir,
  catalogPath: 'models/catalog.json',
  demoModelDir: 'models/demo',
  doctor: (target, o) => {
    calls.push({ target, opts: o });
    return doctorModel(target, { ...o, provider: parseProviderChoice(o.provider) });
  },
};

async function run(args: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runModelsCommand(args, { stdout, stderr, isTTY: false }, ctx);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('atelier models doctor', () => {
  it('a model id: resolves the folder and the catalog size, prints the verdict', async () => {
    const r = await run(['doctor', 'atelier-demo', '--provider', 'cpu']);
    expect(r.code).toBe(0);
    expect(calls.at(-1)).toEqual({ target: 'models/demo', opts: { provider: 'cpu', width: 64, height: 64, batch: undefined, target: 'atelier-demo' } });
    expect(r.stdout).toMatch(/^atelier-demo on cpu at 64×64, batch 1\n/);
    expect(r.stdout).toMatch(/\n✓ will run on CPU\n/);
    expect(r.stdout).toMatch(/\nunet {2}\(unet\/model\.onnx, /);
  });

  it('a loose .onnx that cannot load exits 3; --json gives the full report; --size sets the estimate', async () => {
    const r = await run(['doctor', 'test/fixtures/models/_defects/unet-groupnorm.onnx', '--provider', 'cpu', '--size', '768x512', '--json']);
    expect(r.code).toBe(3);
    const report = JSON.parse(r.stdout) as ModelDoctorReport;
    expect([report.width, report.height, report.provider]).toEqual([768, 512, 'cpu']);
    expect(report.verdict.level).toBe('fails');
    expect(report.graphs[0].unsupported).toEqual([{ op: 'GroupNorm', domain: 'com.microsoft', count: 1, fallback: 'none' }]);
  });

  it('checks for a provider this machine does not have', async () => {
    const r = await run(['doctor', 'test/fixtures/models/_defects/unet-groupnorm.onnx', '--provider', 'dml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/on dml \(not available on this machine\)/);
    expect(r.stdout).toMatch(/✓ will run on GPU \(dml\)/);
  });

  it('usage errors', async () => {
    expect((await run(['doctor'])).code).toBe(2);
    expect((await run(['doctor', 'no-such-model'])).stderr).toMatch(/neither an installed model id nor an existing folder/);
    expect((await run(['doctor', 'models/demo', '--size', 'big'])).code).toBe(2);
    expect((await run(['doctor', 'models/demo', '--provider', 'tpu'])).stderr).toMatch(/Unknown execution provider "tpu"/);
  });
});
