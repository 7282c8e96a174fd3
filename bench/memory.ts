/**
 * Memory-modes benchmark: peak resident memory of one txt2img generation with all sessions kept
 * loaded (default) versus low-memory sequential loading (text encoder → release → UNet → release →
 * VAE; `lowMemory` in main/engine/loader.ts), side by side.
 *
 *   npm run bench -- memory [--steps 2] [--sizes 256,512] [--runs 1] [--no-write]
 *   (runs `npx tsx bench/memory.ts …`)
 *
 * Every measurement runs in a fresh child process, so one mode's peak never hides in the other's
 * high-water mark. The child reports the kernel's own peak RSS (VmHWM, reset between phases via
 * /proc/self/clear_refs where Linux allows it; getrusage's maxRSS otherwise), which also catches the
 * peaks inside a blocking session.run that JS-side sampling would miss.
 *
 * Models: bench/fixtures/sd15-compute (SD1.5 I/O and a real UNet's compute structure, weights
 * materialised by ORT at session creation) and the bundled demo model (models/demo).
 * Results go to docs/BENCHMARKS.md under "## Memory modes" (only that section is replaced).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeBenchmarkSection } from './benchmarks-doc';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const MODELS = [
  { name: 'sd15-compute', folder: path.join(ROOT, 'bench', 'fixtures', 'sd15-compute'), fixedSize: null as number | null },
  { name: 'demo', folder: path.join(ROOT, 'models', 'demo'), fixedSize: 64 },
];

// Not strict: `npm run bench -- --flag` hands every benchmark the same flags, some meant for others.
const { values: parsed } = parseArgs({
  strict: false,
  options: {
    child: { type: 'boolean', default: false },
    model: { type: 'string' },
    'low-memory': { type: 'boolean', default: false },
    size: { type: 'string', default: '256' },
    steps: { type: 'string', default: '2' },
    sizes: { type: 'string', default: '256,512' },
    runs: { type: 'string', default: '1' },
    'no-write': { type: 'boolean', default: false },
  },
});
const args = parsed as { child: boolean; model?: string; 'low-memory': boolean; size: string; steps: string; sizes: string; runs: string; 'no-write': boolean };

interface ChildResult {
  baselineMB: number;
  loadPeakMB: number;
  generatePeakMB: number;
  peakMB: number;
  afterMB: number;
  loadMs: number;
  totalMs: number;
  phaseReset: boolean;
}

const MB = 1024 * 1024;

// ---------------------------------------------------------------- child: one generation, one mode
/** Peak RSS so far in MB: VmHWM (resettable) or getrusage maxRSS (KB, monotonic). */
function peakMB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    /* not Linux */
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0: write "5" to clear_refs); false where not allowed. */
function resetPeak(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

async function child(): Promise<void> {
  // Import the engine (and with it onnxruntime-node's native library) before the baseline.
  const { loadModel, txt2img } = await import('../main/engine');
  const folder = args.model!;
  const size = Number(args.size);
  const baselineMB = process.memoryUsage().rss / MB;
  const phaseReset = resetPeak();
  const t0 = performance.now();
  const model = await loadModel(folder, { provider: 'cpu', lowMemory: args['low-memory'] });
  const loadMs = performance.now() - t0;
  const loadPeakMB = peakMB();
  resetPeak();
  const result = await txt2img(model, {
    prompt: 'a photo of a lighthouse on a cliff at dusk, dramatic light',
    width: size,
    height: size,
    steps: Number(args.steps),
    guidanceScale: 7,
    seed: 1234,
    rng: 'cpu',
  });
  const generatePeakMB = peakMB();
  const afterMB = process.memoryUsage().rss / MB;
  await model.release();
  const out: ChildResult = {
    baselineMB,
    loadPeakMB,
    generatePeakMB,
    peakMB: phaseReset ? Math.max(loadPeakMB, generatePeakMB) : generatePeakMB,
    afterMB,
    loadMs,
    totalMs: result.timings.totalMs,
    phaseReset,
  };
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------- parent: children side by side
interface Row {
  model: string;
  size: number;
  mode: 'default' | 'low-memory';
  runs: ChildResult[];
}

function runChild(folder: string, size: number, lowMemory: boolean): ChildResult {
  const tsxCli = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const argv = [tsxCli, SELF, '--child', '--model', folder, '--size', String(size), '--steps', String(args.steps), ...(lowMemory ? ['--low-memory'] : [])];
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * MB });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr?.slice(-2000)}`);
  return JSON.parse(line.slice('RESULT '.length)) as ChildResult;
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];
const f0 = (n: number) => n.toFixed(0);

async function parent(): Promise<void> {
  const started = new Date();
  const runs = Math.max(1, Number(args.runs));
  const sizes = args.sizes!.split(',').map(Number).filter((n) => n > 0);
  const loadBefore = os.loadavg()[0];
  const rows: Row[] = [];
  for (const m of MODELS) {
    for (const size of m.fixedSize ? [m.fixedSize] : sizes) {
      for (const mode of ['default', 'low-memory'] as const) {
        const row: Row = { model: m.name, size, mode, runs: [] };
        for (let i = 0; i < runs; i++) {
          const r = runChild(m.folder, size, mode === 'low-memory');
          row.runs.push(r);
          console.log(`${m.name} ${size}² ${mode}: peak ${f0(r.peakMB)} MB (load ${f0(r.loadPeakMB)}, generate ${f0(r.generatePeakMB)}), baseline ${f0(r.baselineMB)} MB, after ${f0(r.afterMB)} MB, load ${f0(r.loadMs)} ms, generate ${f0(r.totalMs)} ms`);
        }
        rows.push(row);
      }
    }
  }
  const loadAfter = os.loadavg()[0];

  const cpus = os.cpus();
  const machine = `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} logical cores, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${os.type()} ${os.release()} (${os.arch()})`;
  let ortVersion = 'unknown';
  try {
    ortVersion = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    /* keep unknown */
  }
  const phaseReset = rows.every((r) => r.runs.every((x) => x.phaseReset));
  const stamp = started.toISOString().replace('T', ' ').slice(0, 16);
  const lines: string[] = [];
  const readings: string[] = [];
  for (let i = 0; i < rows.length; i += 2) {
    const [d, l] = [rows[i], rows[i + 1]];
    const m = (r: Row, f: (x: ChildResult) => number) => med(r.runs.map(f));
    const pd = m(d, (x) => x.peakMB);
    const pl = m(l, (x) => x.peakMB);
    const runsNote = (r: Row) => (r.runs.length > 1 ? ` (${r.runs.map((x) => f0(x.peakMB)).join(', ')})` : '');
    const row = (r: Row, delta: string) =>
      `| ${r.model} | ${r.size}×${r.size} | ${r.mode} | **${f0(m(r, (x) => x.peakMB))}**${runsNote(r)} | ${f0(m(r, (x) => x.loadPeakMB))} | ${f0(m(r, (x) => x.generatePeakMB))} | ${f0(m(r, (x) => x.afterMB))} | ${f0(m(r, (x) => x.baselineMB))} | ${f0(m(r, (x) => x.loadMs))} | ${f0(m(r, (x) => x.totalMs))} | ${delta} |`;
    lines.push(row(d, ''), row(l, `${pl - pd >= 0 ? '+' : ''}${f0(pl - pd)} MB (${(((pl - pd) / pd) * 100).toFixed(1)}%)`));
    const base = m(d, (x) => x.baselineMB);
    const aloneShare = (m(l, (x) => x.loadPeakMB) - base) / (m(d, (x) => x.loadPeakMB) - base);
    readings.push(
      `- **${d.model} ${d.size}×${d.size}**: low-memory peak ${f0(pl)} MB vs ${f0(pd)} MB (${pl - pd >= 0 ? '+' : ''}${f0(pl - pd)} MB). ` +
        `While loading, low-memory opens one session at a time; that peak reaches ${(aloneShare * 100).toFixed(0)}% of the default mode's ` +
        `all-sessions load peak (above the baseline), i.e. the largest single session is that much of the model's footprint. ` +
        `Generating adds ${f0(m(d, (x) => x.generatePeakMB - x.loadPeakMB))} MB (default) / ${f0(m(l, (x) => x.generatePeakMB - x.loadPeakMB))} MB (low-memory) over the load peak: the UNet's working memory while denoising (low-memory runs without ORT's CPU arena and memory-pattern plan, so it holds only what each run needs). ` +
        `RSS after the generation: ${f0(m(d, (x) => x.afterMB))} → ${f0(m(l, (x) => x.afterMB))} MB (low-memory has released every session). ` +
        `Generation time ${f0(m(d, (x) => x.totalMs))} → ${f0(m(l, (x) => x.totalMs))} ms (low-memory re-creates each session inside the generation; times are noisy on this shared machine).`,
    );
  }
  const section = `## Memory modes

Run: \`npm run bench -- memory\` (\`bench/memory.ts\`) — ${stamp} UTC.
Machine: ${machine}; shared with other work (1-min load average ${loadBefore.toFixed(1)} at start, ${loadAfter.toFixed(1)} at end).
Node ${process.version}, onnxruntime-node ${ortVersion}, execution provider \`cpu\`.

One txt2img generation (${args.steps} steps, CFG 7, each model's default scheduler) per fresh child process, in-process engine,
${runs} run(s) per cell (median shown). **Peak RSS** is the kernel's high-water mark of the whole process (VmHWM${phaseReset ? ', reset after loading so the load and generate phases are measured separately' : '; the phases could not be separated here'}),
so native ONNX Runtime allocations and peaks inside a blocking \`session.run\` count. "Baseline" is the RSS of Node + tsx + the
engine's imports (onnxruntime-node's native library) before any model is loaded. *Default* keeps the text encoder, UNet and VAE
sessions open from load to release; *low-memory* (\`lowMemory\` setting) opens each session for its stage only, without ORT's CPU memory arena and memory-pattern pre-allocation (and, at load,
opens each one alone to read its metadata).

| Model | size | mode | peak RSS MB | load peak MB | generate peak MB | RSS after MB | baseline MB | load ms | generate ms | low-memory vs default |
|---|---|---|---|---|---|---|---|---|---|---|
${lines.join('\n')}

${readings.join('\n')}

The sd15-compute fixture computes its weights inside the graphs and ORT materialises them at session creation: its sessions have a
real SD1.5 export's structure at about a quarter of the UNet compute, and its text encoder and VAE are far smaller relative to the
UNet than SD1.5's (≈ 0.5 GB and 0.2 GB next to a 3.4 GB UNet in fp32): the share low-memory mode can free is smaller here than on a real model.
`;
  console.log('\n' + section);
  if (!args['no-write']) {
    const file = writeBenchmarkSection('## Memory modes', section);
    console.log(`wrote ${path.relative(ROOT, file)} (## Memory modes)`);
  }
}

if (args.child) await child();
else await parent();
