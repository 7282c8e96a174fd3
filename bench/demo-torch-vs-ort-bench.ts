/**
 * Demo model, eager PyTorch vs our ORT pipeline (issue 4): the same weights, the same full txt2img
 * (tokenize → text encoder for prompt + empty prompt → 20 DDIM steps with the shipped guidance → VAE decode → 8-bit
 * RGB), the same thread count, batch 1 and 4. Rounds alternate torch / ORT so background load hits
 * both sides alike; the ratio is median(torch) / median(ORT) (goal ≥ 1.5).
 *
 *   npm run bench -- demo-torch-vs-ort [--rounds 3] [--runs 5] [--threads 2] [--no-write]
 *
 * The PyTorch side (models/tools/bench_torch.py) needs Debian's python3-torch and the training
 * checkpoint in models/.work/ or $ATELIER_DEMO_WORK (the weights models/demo/ was exported from; another
 * step is refused); without them the benchmark says so and exits without writing. Results go to docs/BENCHMARKS.md under
 * "## Demo model: PyTorch vs ORT" (only that section is replaced).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadModel, txt2img } from '../main/engine';
import type { LoadedModel, Txt2ImgParams } from '../main/engine';
import { writeBenchmarkSection } from './benchmarks-doc';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    python: { type: 'string', default: process.env.ATELIER_PYTHON ?? '/usr/bin/python3' },
    'no-write': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(args.rounds);
const RUNS = Number(args.runs);
const THREADS = Number(args.threads);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEMO = path.join(ROOT, 'models', 'demo');
// The training work folder whose checkpoint was exported (models/tools/common.py reads the same variable).
const WORK = process.env.ATELIER_DEMO_WORK ? path.resolve(process.env.ATELIER_DEMO_WORK) : path.join(ROOT, 'models', '.work');
// Timed at the guidance the model ships with; the cost is the same for any scale > 1 (two UNet halves).
const GUIDANCE = (JSON.parse(fs.readFileSync(path.join(DEMO, 'heldout.json'), 'utf8')) as { recommended: { guidance_scale: number } })
  .recommended.guidance_scale;
const EXPORTED_STEP = (JSON.parse(fs.readFileSync(path.join(DEMO, 'parity', 'manifest.json'), 'utf8')) as { checkpoint_step: number })
  .checkpoint_step;
const PROMPT = 'a small yellow circle at the top on a purple background';
const STEPS = 20;
const SECTION = '## Demo model: PyTorch vs ORT';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function torchEnv(): NodeJS.ProcessEnv {
  // Debian's torch uses a slow reference BLAS; OpenBLAS (see models/tools/retrain.sh) is what training used.
  const openblas = '/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread';
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', ATELIER_DEMO_WORK: WORK };
  if (fs.existsSync(openblas)) env.LD_LIBRARY_PATH = [openblas, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return env;
}

interface TorchRun {
  runs_ms: number[];
  unet_calls: number;
  threads: number;
  torch: string;
  step: number;
}

function runTorch(batch: number): TorchRun {
  const r = spawnSync(
    args.python!,
    ['bench_torch.py', '--runs', String(RUNS), '--steps', String(STEPS), '--threads', String(THREADS), '--batch', String(batch), '--cfg', String(GUIDANCE), '--prompt', PROMPT],
    { cwd: path.join(ROOT, 'models', 'tools'), env: torchEnv(), encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`bench_torch.py failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const run = JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchRun;
  // Comparing other weights would time the same graphs but describe the wrong model.
  if (run.step !== EXPORTED_STEP)
    throw new Error(`${path.relative(ROOT, WORK)}/unet_ckpt.pt is step ${run.step}, models/demo was exported from step ${EXPORTED_STEP}: set ATELIER_DEMO_WORK`);
  return run;
}

async function runOrt(model: LoadedModel, batch: number): Promise<number[]> {
  const params: Txt2ImgParams = {
    prompt: PROMPT, negativePrompt: '', width: 64, height: 64, steps: STEPS, guidanceScale: GUIDANCE,
    scheduler: 'DDIMScheduler', seed: 1, rng: 'cpu', batchSize: batch,
  };
  await txt2img(model, params); // warm-up, as on the torch side
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await txt2img(model, { ...params, seed: i + 2 });
    out.push(performance.now() - t0);
  }
  return out;
}

function preflight(): string | null {
  if (!fs.existsSync(path.join(WORK, 'unet_ckpt.pt')) || !fs.existsSync(path.join(WORK, 'ae.pt')))
    return `no training checkpoint in ${path.relative(ROOT, WORK)}/ (run models/tools/retrain.sh first)`;
  const probe = spawnSync(args.python!, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', env: torchEnv() });
  if (probe.status !== 0) return `${args.python} cannot import torch (apt-get install python3-torch)`;
  return null;
}

const why = preflight();
if (why) {
  console.log(`demo-torch-vs-ort: skipped — ${why}. Nothing written.`);
  process.exit(0);
}

const model = await loadModel(DEMO, { provider: 'cpu', threads: THREADS });
const rows: string[] = [];
let torchInfo: TorchRun | null = null;
for (const batch of [1, 4]) {
  const torchMs: number[] = [];
  const ortMs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = runTorch(batch);
    torchInfo = t;
    torchMs.push(...t.runs_ms);
    ortMs.push(...(await runOrt(model, batch)));
    console.log(`batch ${batch} round ${r + 1}: torch median ${median(t.runs_ms).toFixed(0)} ms, ORT median ${median(ortMs.slice(-RUNS)).toFixed(0)} ms`);
  }
  const tm = median(torchMs);
  const om = median(ortMs);
  rows.push(`| ${batch} | ${torchMs.length} | ${tm.toFixed(0)} | ${om.toFixed(0)} | **${(tm / om).toFixed(2)}×** |`);
}
await model.release();

const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const section = `${SECTION}

Measured ${date} UTC on ${os.cpus().length}× ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, ${os.platform()} (\`npm run bench -- demo-torch-vs-ort\`).
Full txt2img of "${PROMPT}" at 64×64: tokenize, text encoder (prompt + empty prompt), ${STEPS} DDIM steps with CFG ${GUIDANCE}
(${torchInfo?.unet_calls ?? STEPS} UNet calls on a doubled batch), VAE decode, 8-bit RGB. Same EMA weights (training step ${torchInfo?.step ?? '?'}),
${THREADS} threads on both sides (torch ${torchInfo?.torch ?? '?'} eager with OpenBLAS, \`torch.inference_mode\`; onnxruntime-node CPU EP through
\`main/engine\`). ${ROUNDS} alternating rounds × ${RUNS} timed runs after one warm-up each; medians. Goal: ORT ≥ 1.5× faster.

| batch | runs per side | PyTorch eager (ms) | Atelier ORT (ms) | speed-up |
|---|---|---|---|---|
${rows.join('\n')}
`;
console.log('\n' + section);

if (!args['no-write']) {
  writeBenchmarkSection(SECTION, section);
  console.log(`wrote docs/BENCHMARKS.md (${SECTION})`);
}
