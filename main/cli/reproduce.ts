/**
 * `atelier reproduce <image>`: regenerate an image from the parameters in the file, with the model
 * found by its hash, through the same runtime and generation service as `atelier generate`, and
 * report `identical` or how far the pixels are off. Exit 0 identical, 3 different, 1 error.
 * When the image lives in a project (`<project>.atelier/images/…`), the receipt is stored beside it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseProviderChoiceName } from '../../common/providers';
import { defaultUserDataDir } from '../app/paths';
import { encodeGenerationPng } from '../app/png-output';
import { reproduceImage } from '../app/reproduce';
import { APP_VERSION, createRuntime } from '../app/runtime';
import { Provenance, projectDirOfImage, writeReceipt } from '../provenance';
import { controlImageFile } from '../library';
import type { CliIo } from './generate';
import { ProgressReporter } from './progress-bar';

export const REPRODUCE_USAGE = `atelier reproduce <image.png> [--out FILE] [--provider auto|cuda|dml|coreml|webgpu|cpu] [--json] [--home DIR]`;

export const EXIT_IDENTICAL = 0;
export const EXIT_DIFFERENT = 3;

export async function runReproduce(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      out: { type: 'string' },
      provider: { type: 'string' },
      json: { type: 'boolean', default: false },
      home: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout.write(`${REPRODUCE_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new Error(`reproduce takes exactly one image\n${REPRODUCE_USAGE}`);
  const file = resolve(positionals[0]);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  const userDataDir = values.home ?? defaultUserDataDir();
  const runtime = createRuntime({ userDataDir });
  try {
    const progress = values.json ? null : new ProgressReporter(io.stderr, 'reproducing');
    const project = projectDirOfImage(file);
    const r = await reproduceImage(runtime, bytes, {
      // An image of a project: its ControlNet control images (`sha256:` refs) are kept in that project.
      ...(project ? { project: { controlImageFile: (ref: string) => controlImageFile(project, ref), imageFile: async () => null } } : {}),
      provider: values.provider === undefined ? undefined : parseProviderChoiceName(values.provider),
      hooks: { onProgress: (step, total, elapsedMs) => progress?.update(step, total, step > 0 ? (elapsedMs / step) * (total - step) : NaN) },
    });
    progress?.finish();
    const { receipt } = r;
    if (values.out) {
      const out = resolve(values.out);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, await encodeGenerationPng(r.image, r.record, { provenance: new Provenance(userDataDir, { appVersion: APP_VERSION }) }));
    }
    const stored = project && r.generationId ? writeReceipt(project, r.generationId, receipt) : null;
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ file, ...receipt, ...(values.out ? { out: resolve(values.out) } : {}), ...(stored ? { receiptFile: stored } : {}) })}\n`);
    } else if (receipt.result === 'identical') {
      io.stdout.write(`identical — ${receipt.width}×${receipt.height} pixels bit-identical · ${receipt.modelId} · provider ${receipt.provider}\n`);
    } else {
      io.stdout.write(`different — mean absolute difference ${receipt.meanAbsDiff} (of 255), max ${receipt.maxDiff} · ${receipt.modelId} · provider ${receipt.provider}${receipt.note ? ` · ${receipt.note}` : ''}\n`);
    }
    if (stored && !values.json) io.stderr.write(`receipt stored in ${stored}\n`);
    return receipt.result === 'identical' ? EXIT_IDENTICAL : EXIT_DIFFERENT;
  } finally {
    await runtime.close();
  }
}
