/**
 * Structural checks of a diffusers-ONNX folder (see onnx-sd.md §1), on a file list so the same
 * rules apply to a hub listing (before downloading gigabytes) and to a folder on disk.
 * These are cheap, exact messages; the engine's loader (injected `validate`) does the deep check.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

export interface LayoutReport {
  ok: boolean;
  /** What is wrong, one actionable sentence each. */
  problems: string[];
  /** `sd` (one text encoder) or `sdxl` (two), when recognisable. */
  variant?: 'sd' | 'sdxl';
}

const TOKENIZER_FILES = ['vocab.json', 'merges.txt'];

/** Files a download of a diffusers-ONNX repo needs: everything under the pipeline components plus model_index.json. */
export function selectPipelineFiles<T extends { path: string }>(files: T[]): T[] {
  const components = new Set(['scheduler', 'text_encoder', 'text_encoder_2', 'tokenizer', 'tokenizer_2', 'unet', 'vae_decoder', 'vae_encoder']);
  const skipExt = /\.(safetensors|bin|ckpt|pt|pth|msgpack|h5|xml|mapping|md|png|jpg|py)$/i;
  return files.filter((f) => {
    if (f.path === 'model_index.json') return true;
    const [dir, ...rest] = f.path.split('/');
    if (!components.has(dir) || rest.length !== 1) return false;
    const name = rest[0];
    if (skipExt.test(name)) return false;
    // TensorStack ships an onnxruntime-extensions tokenizer graph; we use vocab/merges instead.
    if ((dir === 'tokenizer' || dir === 'tokenizer_2') && name.endsWith('.onnx')) return false;
    return true;
  });
}

/**
 * Check a list of relative paths for a loadable diffusers-ONNX pipeline.
 * `modelIndex` (parsed model_index.json), when available, decides whether SDXL parts are required.
 */
export function checkPipelineFiles(paths: string[], modelIndex?: Record<string, unknown>): LayoutReport {
  const have = new Set(paths);
  const problems: string[] = [];
  const need = (p: string, why: string) => {
    if (!have.has(p)) problems.push(`missing ${p} (${why})`);
  };
  need('model_index.json', 'the pipeline description at the top of a diffusers folder');
  need('unet/model.onnx', 'the denoising UNet');
  need('text_encoder/model.onnx', 'the CLIP text encoder');
  need('vae_decoder/model.onnx', 'the VAE decoder that turns latents into pixels');
  for (const f of TOKENIZER_FILES) need(`tokenizer/${f}`, 'the CLIP tokenizer');
  need('scheduler/scheduler_config.json', 'the scheduler configuration');

  const declaresSdxl = modelIndex ? 'text_encoder_2' in modelIndex && Array.isArray(modelIndex.text_encoder_2) && modelIndex.text_encoder_2[0] !== null : false;
  const hasTe2 = [...have].some((p) => p.startsWith('text_encoder_2/'));
  const variant = declaresSdxl || hasTe2 ? 'sdxl' : 'sd';
  if (variant === 'sdxl') {
    need('text_encoder_2/model.onnx', 'the second (OpenCLIP bigG) text encoder of SDXL');
    for (const f of TOKENIZER_FILES) need(`tokenizer_2/${f}`, 'the second SDXL tokenizer');
  }
  if (problems.length > 0 && paths.some((p) => !p.includes('/') && p.endsWith('.onnx'))) {
    problems.push('top-level .onnx files found: this looks like a non-diffusers export (e.g. text_encoder.onnx); Atelier needs the diffusers folder layout');
  }
  return { ok: problems.length === 0, problems, variant };
}

/** Recursively list files under `root` as POSIX relative paths. */
export async function listFolderFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), r);
      else if (e.isFile() || e.isSymbolicLink()) out.push(r);
    }
  }
  await walk(root, '');
  return out.sort();
}

/** Check a folder on disk: layout, readable model_index.json, no empty graph files. */
export async function checkPipelineFolder(folder: string): Promise<LayoutReport> {
  let st;
  try {
    st = await stat(folder);
  } catch {
    return { ok: false, problems: [`folder not found: ${folder}`] };
  }
  if (!st.isDirectory()) return { ok: false, problems: [`not a folder: ${folder}`] };
  const files = await listFolderFiles(folder);
  let modelIndex: Record<string, unknown> | undefined;
  const extra: string[] = [];
  if (files.includes('model_index.json')) {
    try {
      modelIndex = JSON.parse(await readFile(path.join(folder, 'model_index.json'), 'utf8')) as Record<string, unknown>;
      if (typeof modelIndex !== 'object' || modelIndex === null || Array.isArray(modelIndex)) throw new Error('not an object');
    } catch (err) {
      extra.push(`model_index.json is not valid JSON: ${(err as Error).message}`);
      modelIndex = undefined;
    }
  }
  const report = checkPipelineFiles(files, modelIndex);
  for (const f of files.filter((p) => p.endsWith('.onnx'))) {
    const s = await stat(path.join(folder, f));
    if (s.size === 0) extra.push(`${f} is empty (interrupted copy?)`);
  }
  const problems = [...report.problems, ...extra];
  return { ok: problems.length === 0, problems, variant: report.variant };
}

/** `sd1` / `sd2` / `sdxl` from model_index.json and the text encoder config, when recognisable. */
export async function detectFamily(folder: string): Promise<'sd1' | 'sd2' | 'sdxl' | undefined> {
  const index = await readJson(path.join(folder, 'model_index.json'));
  if (!index) return undefined;
  const cls = String(index._class_name ?? '');
  if (/XL/i.test(cls) || (Array.isArray(index.text_encoder_2) && index.text_encoder_2[0] !== null) || (await exists(path.join(folder, 'text_encoder_2')))) return 'sdxl';
  const te = await readJson(path.join(folder, 'text_encoder', 'config.json'));
  if (te && te.hidden_size === 1024) return 'sd2';
  return 'sd1';
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
