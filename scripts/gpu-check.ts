/**
 * `npm run gpu-check [-- --runs 2 --steps 4 --size 256 --device 0 --no-write]` — one command for the first
 * machine with a GPU. Needs nothing but `npm install` (tsx runs this file; no Python).
 *
 *  1. Lists the execution providers this onnxruntime-node reports and whether each can create a
 *     session here (a one-node probe: catches a missing CUDA/cuDNN, no WebGPU adapter…).
 *  2. Generates on the CPU with the SD-shaped fixture (bench/fixtures/sd15-compute, fp32), the
 *     bundled demo model (fp32) and the fp16 fixture (test/fixtures/models/sd15-fp16): the reference.
 *  3. For every usable GPU provider, the same generations with that provider forced: the images are
 *     compared with the CPU's (mean / max absolute difference on 0–255 RGB, tolerance below), UNet
 *     calls and whole generations are timed against the CPU's in the same run, the providers each
 *     graph actually got (and every fallback with its reason) are recorded next to the model
 *     doctor's prediction. On WebGPU it also runs with the prompt embeddings kept on the CPU
 *     (ATELIER_WEBGPU_RESIDENT=0) to check the gpu-buffer path gives the same image.
 *  4. Writes a dated section into docs/BENCHMARKS.md ("## GPU check: <platform>/<arch>, <providers>").
 * Without a usable GPU it says so and exits 0 after the CPU rows; with one, it exits 1 if a GPU row
 * fails to run or falls outside the tolerance.
 */
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeBenchmarkSection } from '../bench/benchmarks-doc';
import { doctorModel, listExecutionProviders, loadModel, ortFloat16Storage, probeProvider, runtimeProblem, txt2img, type ProviderName } from '../main/engine';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2' },
    steps: { type: 'string', default: '4' },
    size: { type: 'string', default: '256' },
    /** CUDA/DirectML device index (DirectML: DXGI adapter order; 0 is often the integrated GPU on laptops). */
    device: { type: 'string', default: '0' },
    'no-write': { type: 'boolean', default: false },
  },
});
const RUNS = Math.min(10, Math.max(1, Number(values.runs)));
const STEPS = Math.min(50, Math.max(1, Number(values.steps)));
const SIZE = Math.min(1024, Math.max(64, Math.round(Number(values.size) / 64) * 64));
const DEVICE = Math.max(0, Math.floor(Number(values.device) || 0));

/** Pass limits for |GPU − CPU| per RGB channel value (0–255). fp32 differs by kernel order / TF32; fp16 by rounding. */
const TOLERANCE = { fp32: { mean: 2, max: 64 }, fp16: { mean: 4, max: 96 } } as const;

interface Case {
  name: string;
  folder: string;
  precision: 'fp32' | 'fp16';
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
}

const CASES: Case[] = [
  { name: 'sd15-compute', folder: path.join(ROOT, 'bench/fixtures/sd15-compute'), precision: 'fp32', width: SIZE, height: SIZE, steps: STEPS, guidanceScale: 7 },
  { name: 'demo', folder: path.join(ROOT, 'models/demo'), precision: 'fp32', width: 64, height: 64, steps: 20, guidanceScale: 1.3 },
  { name: 'sd15-fp16 (fixture)', folder: path.join(ROOT, 'test/fixtures/models/sd15-fp16'), precision: 'fp16', width: 64, height: 64, steps: STEPS, guidanceScale: 7 },
];

interface Row {
  model: string;
  precision: string;
  provider: string;
  label: string;
  ok: boolean;
  error?: string;
  providers?: Record<string, string>;
  fallbacks?: string[];
  predicted?: string;
  loadMs?: number;
  totalMs?: number;
  unetMs?: number;
  rgb?: Uint8Array;
  diff?: { mean: number; max: number };
  pass?: boolean;
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];

async function generate(c: Case, provider: ProviderName, label: string): Promise<Row> {
  const row: Row = { model: c.name, precision: c.precision, provider, label, ok: false };
  try {
    const predicted = await doctorModel(c.folder, { provider, width: c.width, height: c.height });
    row.predicted = predicted.verdict.text;
    const t0 = performance.now();
    const model = await loadModel(c.folder, { provider, deviceId: DEVICE });
    row.loadMs = performance.now() - t0;
    try {
      row.providers = { ...model.providers } as Record<string, string>;
      row.fallbacks = model.fallbacks.map((f) => `${f.component}: ${f.provider} → ${f.reason}`);
      const params = { prompt: 'a photo of a lighthouse on a cliff at dusk, dramatic light', width: c.width, height: c.height, steps: c.steps, guidanceScale: c.guidanceScale, seed: 1234, rng: 'cpu' as const };
      await txt2img(model, params); // warm-up: first-run allocations, cuDNN algorithm search, shader compiles
      const unet = await model.session('unet');
      const totals: number[] = [];
      const unetMs: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const [ms0, n0] = [unet.runMs, unet.runCount];
        const res = await txt2img(model, params);
        totals.push(res.timings.totalMs);
        unetMs.push((unet.runMs - ms0) / Math.max(1, unet.runCount - n0));
        if (i === 0) row.rgb = res.images[0].rgb;
      }
      row.totalMs = med(totals);
      row.unetMs = med(unetMs);
      row.ok = true;
    } finally {
      await model.release();
    }
  } catch (err) {
    row.error = (err as Error).message.replace(/\s+/g, ' ').slice(0, 400);
  }
  return row;
}

function compare(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} logical cores, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${os.type()} ${os.release()} (${os.arch()})`;
}

async function main(): Promise<number> {
  const started = new Date();
  const problem = runtimeProblem();
  if (problem) {
    console.error(problem);
    return 1;
  }
  const reported = listExecutionProviders();
  console.log(`onnxruntime-node reports: ${reported.map((p) => `${p.name}${p.bundled ? '' : ' (not bundled)'}`).join(', ')}`);
  const probes: Array<{ name: ProviderName; ok: boolean; reason?: string }> = [];
  for (const p of reported) {
    const r = await probeProvider(p.name);
    probes.push({ name: p.name, ...r });
    console.log(`  ${p.name.padEnd(7)} ${r.ok ? 'usable' : `not usable: ${r.reason}`}`);
  }
  console.log(`float16 tensors in this process: ${ortFloat16Storage()}`);
  const gpus = probes.filter((p) => p.ok && p.name !== 'cpu').map((p) => p.name);
  if (gpus.length === 0) console.log('\nNo usable GPU provider on this machine: CPU rows only.');

  const rows: Row[] = [];
  for (const c of CASES) {
    const cpu = await generate(c, 'cpu', 'cpu');
    rows.push(cpu);
    console.log(`\n${c.name} (${c.precision}, ${c.width}×${c.height}, ${c.steps} steps): cpu ${cpu.ok ? `${cpu.totalMs!.toFixed(0)} ms/generation, UNet ${cpu.unetMs!.toFixed(1)} ms/call` : `FAILED: ${cpu.error}`}`);
    for (const g of gpus) {
      const variants: Array<[string, string | undefined]> = g === 'webgpu' ? [['webgpu', undefined], ['webgpu, embeddings via CPU', '0']] : [[g, undefined]];
      for (const [label, resident] of variants) {
        const saved = process.env.ATELIER_WEBGPU_RESIDENT;
        if (resident !== undefined) process.env.ATELIER_WEBGPU_RESIDENT = resident;
        const r = await generate(c, g, label);
        if (resident !== undefined) {
          if (saved === undefined) delete process.env.ATELIER_WEBGPU_RESIDENT;
          else process.env.ATELIER_WEBGPU_RESIDENT = saved;
        }
        if (r.ok && cpu.ok && r.rgb && cpu.rgb) {
          r.diff = compare(r.rgb, cpu.rgb);
          const tol = TOLERANCE[c.precision];
          r.pass = r.diff.mean <= tol.mean && r.diff.max <= tol.max && (r.providers?.unet ?? '') === g;
        } else r.pass = false;
        rows.push(r);
        console.log(
          `  ${label}: ${r.ok ? `${r.totalMs!.toFixed(0)} ms/generation (×${(cpu.totalMs! / r.totalMs!).toFixed(2)} vs cpu), UNet ${r.unetMs!.toFixed(1)} ms/call, |Δ| mean ${r.diff?.mean.toFixed(2)} max ${r.diff?.max} → ${r.pass ? 'PASS' : 'FAIL'}` : `FAILED: ${r.error}`}`,
        );
        if (r.providers) console.log(`    sessions on: ${Object.entries(r.providers).map(([k, v]) => `${k}=${v}`).join(', ')}`);
        for (const f of r.fallbacks ?? []) console.log(`    fallback: ${f}`);
        if (r.predicted) console.log(`    doctor predicted: ${r.predicted}`);
      }
    }
  }

  // Report.
  let ortVersion = 'unknown';
  try {
    ortVersion = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    /* unknown */
  }
  const heading = `## GPU check: ${process.platform}/${process.arch}, ${gpus.length ? gpus.join(' + ') : 'CPU only'}`;
  const cpuRow = (m: string) => rows.find((r) => r.model === m && r.provider === 'cpu');
  const table = rows.map((r) => {
    const cpu = cpuRow(r.model);
    const speed = r.provider !== 'cpu' && r.ok && cpu?.ok ? `×${(cpu.totalMs! / r.totalMs!).toFixed(2)}` : '';
    const tol = TOLERANCE[r.precision as 'fp32' | 'fp16'];
    const diff = r.diff ? `${r.diff.mean.toFixed(2)} / ${r.diff.max} (≤ ${tol.mean} / ${tol.max}) ${r.pass ? 'PASS' : 'FAIL'}` : r.provider === 'cpu' ? 'reference' : '—';
    const sessions = r.providers ? Object.entries(r.providers).map(([k, v]) => `${k}=${v}`).join(', ') : '';
    const fb = r.fallbacks?.length ? r.fallbacks.join('; ') : r.ok ? 'none' : `failed: ${r.error}`;
    return `| ${r.model} | ${r.precision} | ${r.label} | ${r.ok ? r.totalMs!.toFixed(0) : '—'} | ${r.ok ? r.unetMs!.toFixed(1) : '—'} | ${speed} | ${diff} | ${sessions} | ${fb} | ${r.predicted ?? ''} |`;
  });
  const probeLines = probes.map((p) => `\`${p.name}\` ${p.ok ? 'usable' : `not usable: ${p.reason}`}`).join('; ');
  const section = `${heading}

Run: \`npm run gpu-check\` (\`scripts/gpu-check.ts\`) — ${started.toISOString().replace('T', ' ').slice(0, 16)} UTC.
Machine: ${machine()}. Node ${process.version}, onnxruntime-node ${ortVersion}; float16 tensors as ${ortFloat16Storage()}; CUDA/DirectML device ${DEVICE}.
Providers: ${probeLines}.
${gpus.length ? '' : '**No usable GPU provider on this machine: CPU rows only.** Run the same command on a GPU machine (see README, "Checking a GPU").\n'}
Each row: one warm-up generation, then the median of ${RUNS} (seed 1234, the engine's own CPU RNG so every provider starts from the same noise).
"UNet ms/call" is the mean time inside \`session.run\` per UNet call; "speed" is the CPU's generation time divided by the row's.
|Δ| compares the first timed image with the CPU's on 0–255 RGB (mean / max; the pass limits in brackets, and the UNet must run on the provider itself).
"Doctor predicted" is \`atelier models doctor\`'s verdict for that provider, made before loading.

| Model | precision | provider | ms / generation | UNet ms / call | speed vs CPU | \\|Δ\\| mean / max vs CPU | sessions on | fallbacks (reason) | doctor predicted |
|---|---|---|---|---|---|---|---|---|---|
${table.join('\n')}
`;
  console.log(`\n${section}`);
  if (!values['no-write']) console.log(`wrote ${writeBenchmarkSection(heading, section)}`);
  const gpuRows = rows.filter((r) => r.provider !== 'cpu');
  const cpuFailed = rows.some((r) => r.provider === 'cpu' && !r.ok);
  return cpuFailed || gpuRows.some((r) => !r.pass) ? 1 : 0;
}

process.exitCode = await main();
