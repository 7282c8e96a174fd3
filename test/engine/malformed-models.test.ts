/**
 * Every defect in a model folder must end in one ModelLoadError naming the file and
 * what was expected — never a crash, a hang, or a raw ONNX Runtime message alone.
 * Each case copies a good fixture into a temp dir and breaks one thing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync, unlinkSync, renameSync, statSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../main/engine/loader';
import { ModelLoadError, type ModelLoadErrorCode } from '../../main/engine/model-errors';

const FIX = join(process.cwd(), 'test/fixtures/models');
const DEFECTS = join(FIX, '_defects');
const tmpRoot = mkdtempSync(join(tmpdir(), 'atelier-malformed-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

let n = 0;
function copyOf(variant: string): string {
  const dir = join(tmpRoot, `${variant}-${n++}`);
  cpSync(join(FIX, variant), dir, { recursive: true });
  return dir;
}

interface Case {
  name: string;
  variant?: string;
  breakIt(dir: string): void | string;
  code: ModelLoadErrorCode;
  /** Path (relative to the model folder) that the error must name. */
  file: string;
  message: RegExp;
}

const CASES: Case[] = [
  { name: 'model folder does not exist', breakIt: (d) => rmSync(d, { recursive: true }), code: 'missing-file', file: '', message: /model folder does not exist.*Expected a diffusers ONNX folder/ },
  { name: 'missing model_index.json', breakIt: (d) => unlinkSync(join(d, 'model_index.json')), code: 'missing-file', file: 'model_index.json', message: /file is missing.*model_index\.json/ },
  { name: 'model_index.json is not JSON', breakIt: (d) => writeFileSync(join(d, 'model_index.json'), '{"_class_name": "Onnx'), code: 'bad-json', file: 'model_index.json', message: /is not valid JSON/ },
  { name: 'model_index.json without _class_name', breakIt: (d) => writeFileSync(join(d, 'model_index.json'), '{"unet": ["diffusers", "UNet2DConditionModel"]}'), code: 'bad-config', file: 'model_index.json', message: /has no "_class_name"/ },
  { name: 'missing unet folder', breakIt: (d) => rmSync(join(d, 'unet'), { recursive: true }), code: 'missing-file', file: 'unet', message: /component folder is missing.*"unet\/" folder containing model\.onnx/ },
  { name: 'missing text_encoder/model.onnx', breakIt: (d) => unlinkSync(join(d, 'text_encoder/model.onnx')), code: 'missing-file', file: 'text_encoder/model.onnx', message: /file is missing.*text_encoder ONNX graph/ },
  { name: 'old flat layout (unet.onnx at the top level)', breakIt: (d) => { renameSync(join(d, 'unet/model.onnx'), join(d, 'unet.onnx')); rmSync(join(d, 'unet'), { recursive: true }); }, code: 'missing-file', file: 'unet', message: /non-diffusers layout/ },
  { name: 'empty vae_decoder/model.onnx', breakIt: (d) => truncateSync(join(d, 'vae_decoder/model.onnx'), 0), code: 'corrupt-onnx', file: 'vae_decoder/model.onnx', message: /empty \(0 bytes\)/ },
  {
    name: 'truncated vae_decoder/model.onnx',
    breakIt: (d) => { const f = join(d, 'vae_decoder/model.onnx'); truncateSync(f, Math.floor(statSync(f).size / 2)); },
    code: 'corrupt-onnx', file: 'vae_decoder/model.onnx', message: /truncated or not an ONNX model.*re-download vae_decoder\/model\.onnx/,
  },
  { name: 'text_encoder/model.onnx is not ONNX', breakIt: (d) => writeFileSync(join(d, 'text_encoder/model.onnx'), Buffer.alloc(4096, 0xab)), code: 'corrupt-onnx', file: 'text_encoder/model.onnx', message: /truncated or not an ONNX model/ },
  {
    name: 'Git LFS pointer instead of unet/model.onnx',
    breakIt: (d) => writeFileSync(join(d, 'unet/model.onnx'), 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 3438167536\n'),
    code: 'corrupt-onnx', file: 'unet/model.onnx', message: /Git LFS pointer file.*git lfs pull/,
  },
  {
    name: 'Git LFS pointer instead of model.onnx_data', variant: 'sd15-optimum-old',
    breakIt: (d) => writeFileSync(join(d, 'unet/model.onnx_data'), 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 3438167536\n'),
    code: 'missing-external-data', file: 'unet/model.onnx_data', message: /Git LFS pointer file/,
  },
  { name: 'HTML page saved as vae_decoder/model.onnx', breakIt: (d) => writeFileSync(join(d, 'vae_decoder/model.onnx'), '<!DOCTYPE html><html><body>Access denied</body></html>'), code: 'corrupt-onnx', file: 'vae_decoder/model.onnx', message: /HTML\/XML page.*failed or redirected download/ },
  { name: 'missing external data weights.pb', breakIt: (d) => unlinkSync(join(d, 'unet/weights.pb')), code: 'missing-external-data', file: 'unet/weights.pb', message: /external weights file is missing \(referenced by unet\/model\.onnx\).*"weights\.pb"/ },
  { name: 'truncated external data weights.pb', breakIt: (d) => truncateSync(join(d, 'unet/weights.pb'), 1000), code: 'missing-external-data', file: 'unet/weights.pb', message: /external weights file is truncated \(1000 bytes\)/ },
  { name: 'renamed model.onnx_data (optimum)', variant: 'sd15-optimum-old', breakIt: (d) => renameSync(join(d, 'unet/model.onnx_data'), join(d, 'unet/weights.bin')), code: 'missing-external-data', file: 'unet/model.onnx_data', message: /Do not rename external-data files/ },
  { name: 'ORT demo-engine UNet names (out "latent")', breakIt: (d) => { copyFileSync(join(DEFECTS, 'unet-demo-names.onnx'), join(d, 'unet/model.onnx')); }, code: 'wrong-io-names', file: 'unet/model.onnx', message: /no output named "out_sample" \(outputs: "latent"\).*demo-engine naming/ },
  { name: 'ORT demo-engine VAE names (latent → images)', breakIt: (d) => copyFileSync(join(DEFECTS, 'vae-demo-names.onnx'), join(d, 'vae_decoder/model.onnx')), code: 'wrong-io-names', file: 'vae_decoder/model.onnx', message: /no input named "latent_sample" \(inputs: "latent"\)/ },
  { name: 'UNet sample of rank 3', breakIt: (d) => copyFileSync(join(DEFECTS, 'unet-rank3.onnx'), join(d, 'unet/model.onnx')), code: 'wrong-rank', file: 'unet/model.onnx', message: /input "sample" has rank 3.*Expected rank 4/ },
  { name: 'float input_ids', breakIt: (d) => copyFileSync(join(DEFECTS, 'te-float-ids.onnx'), join(d, 'text_encoder/model.onnx')), code: 'wrong-dtype', file: 'text_encoder/model.onnx', message: /"input_ids" has element type float32.*Expected int32 or int64/ },
  {
    name: 'UNet hidden size ≠ text encoder hidden size',
    breakIt: (d) => { rmSync(join(d, 'unet'), { recursive: true }); cpSync(join(FIX, 'sd2-v/unet'), join(d, 'unet'), { recursive: true }); },
    code: 'mismatch', file: 'unet/model.onnx', message: /takes hidden size 48 but text_encoder\/model\.onnx produces 32/,
  },
  {
    name: 'unet/config.json in_channels disagrees with the graph', variant: 'sd15-optimum-old',
    breakIt: (d) => { const f = join(d, 'unet/config.json'); writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(f, 'utf8')), in_channels: 9 })); },
    code: 'mismatch', file: 'unet/config.json', message: /in_channels is 9 but unet\/model\.onnx "sample" has 4 channels/,
  },
  { name: 'unknown scheduler class', breakIt: (d) => writeFileSync(join(d, 'scheduler/scheduler_config.json'), JSON.stringify({ _class_name: 'FancyScheduler' })), code: 'unknown-scheduler', file: 'scheduler/scheduler_config.json', message: /"FancyScheduler" is not a scheduler.*one of DDIMScheduler/ },
  { name: 'missing scheduler_config.json', breakIt: (d) => unlinkSync(join(d, 'scheduler/scheduler_config.json')), code: 'missing-file', file: 'scheduler/scheduler_config.json', message: /file is missing/ },
  { name: 'scheduler_config.json is not JSON', breakIt: (d) => writeFileSync(join(d, 'scheduler/scheduler_config.json'), 'beta_start = 0.00085'), code: 'bad-json', file: 'scheduler/scheduler_config.json', message: /not valid JSON/ },
  { name: 'missing tokenizer/vocab.json', breakIt: (d) => unlinkSync(join(d, 'tokenizer/vocab.json')), code: 'tokenizer', file: 'tokenizer/vocab.json', message: /CLIP BPE vocabulary/ },
  { name: 'missing tokenizer/merges.txt', breakIt: (d) => unlinkSync(join(d, 'tokenizer/merges.txt')), code: 'tokenizer', file: 'tokenizer/merges.txt', message: /CLIP BPE merge list/ },
  { name: 'vocab.json without special tokens', breakIt: (d) => writeFileSync(join(d, 'tokenizer/vocab.json'), '{"a</w>": 0}'), code: 'tokenizer', file: 'tokenizer', message: /no BOS token "<\|startoftext\|>"/ },
  { name: 'bad scaling_factor in vae_decoder/config.json', variant: 'sd15-optimum-new', breakIt: (d) => writeFileSync(join(d, 'vae_decoder/config.json'), '{"scaling_factor": "0.18215"}'), code: 'bad-config', file: 'vae_decoder/config.json', message: /scaling_factor is "0\.18215".*positive number/ },
  { name: 'vae_encoder folder without model.onnx', breakIt: (d) => unlinkSync(join(d, 'vae_encoder/model.onnx')), code: 'missing-file', file: 'vae_encoder/model.onnx', message: /file is missing/ },
  {
    name: 'contrib op (com.microsoft GroupNorm) the provider lacks',
    breakIt: (d) => { copyFileSync(join(DEFECTS, 'unet-groupnorm.onnx'), join(d, 'unet/model.onnx')); },
    code: 'provider', file: 'unet/model.onnx', message: /uses operator GroupNorm that the execution provider\(s\) tried \(cpu\) cannot run.*portable \(unoptimized\) unet export/,
  },
];

describe('malformed model folders', () => {
  it('covers at least 15 distinct defects', () => {
    expect(new Set(CASES.map((c) => c.name)).size).toBeGreaterThanOrEqual(15);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const dir = copyOf(c.variant ?? 'sd15-diffusers');
      c.breakIt(dir);
      const started = Date.now();
      const err = await loadModel(dir, { provider: 'cpu' }).then(
        async (m) => {
          await m.release();
          return null;
        },
        (e: unknown) => e,
      );
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(err, 'loadModel should have failed').toBeInstanceOf(ModelLoadError);
      const e = err as ModelLoadError;
      expect(e.code).toBe(c.code);
      expect(e.file).toBe(c.file ? join(dir, c.file) : dir);
      expect(e.expected.length).toBeGreaterThan(5);
      expect(e.message).toMatch(c.message);
      expect(e.message.startsWith(e.file)).toBe(true);
    });
  }
});
