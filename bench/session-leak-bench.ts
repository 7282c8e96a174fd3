/**
 * Session lifetime: does the process grow over many ONNX Runtime session create/release cycles?
 * onnxruntime-node is reported to leak across create/release (microsoft/onnxruntime#25325, open), and
 * Atelier creates sessions on every model load, and — in low-memory mode — inside every generation.
 *
 *   npm run bench -- session-leak [--cycles 50] [--size 256] [--steps 2] [--no-write]
 *   (runs `npx tsx bench/session-leak-bench.ts …`)
 *
 * For each model (the SD-shaped bench/fixtures/sd15-compute and the bundled demo model), three
 * scenarios, each in a fresh child process (node --expose-gc, gc() after every cycle):
 *  - reload:      loadModel → txt2img → release, N times (default mode: 3–4 sessions per cycle)
 *  - low-memory:  loadModel once (lowMemory) → txt2img N times (each generation creates and releases
 *                 every session it uses) → release
 *  - kept:        loadModel once (default) → txt2img N times → release (no session churn: the control)
 * RSS is read after every cycle; growth is the least-squares slope over the cycles after the first
 * five (warm-up: arenas and caches fill), and the difference between the last and the sixth cycle.
 * Results go to docs/BENCHMARKS.md under "## Session lifetime" (only that section is replaced).
 */
import { spawnSync } from 'node:child_process';
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
const SCENARIOS = ['reload', 'low-memory', 'kept'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values: parsed } = parseArgs({
  strict: false,
  options: {
    child: { type: 'boolean', default: false },
    model: { type: 'string' },
    scenario: { type: 'string' },
    cycles: { type: 'string', default: '50' },
    size: { type: 'string', default: '256' },
    steps: { type: 'string', default: '2' },
    'no-write': { type: 'boolean', default: false },
  },
});
const args = parsed as { child: boolean; model?: string; scenario?: Scenario; cycles: string; size: string; steps: string; 'no-write': boolean };
const MB = 1024 * 1024;

/** What Atelier does about it (kept with the numbers; revisit when a run says otherwise). */
const DECISION = `What Atelier does with this: the default mode keeps every session from load to unload (the *kept* rows: flat), so
repeated generations do not churn sessions at all; a model switch or unload releases them, which costs the per-create growth above
once per load. Low-memory mode still opens each session for its stage and releases it after (so the text encoders, UNet and VAE are
never resident together: SDXL's text_encoder_2 alone is 2.8 GB in fp32). Keeping them alive across generations in low-memory mode
would stop the churn but give up that saving; the growth per generation is measured above, so a user generating hundreds of images
in low-memory mode can weigh it (or reload the model, which starts a fresh worker process).`;

// ---------------------------------------------------------------- child: N cycles of one scenario
async function child(): Promise<void> {
  const { loadModel, txt2img } = await import('../main/engine');
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  const folder = args.model!;
  const size = Number(args.size);
  const cycles = Math.min(1000, Math.max(1, Number(args.cycles)));
  const params = { prompt: 'a photo of a lighthouse on a cliff at dusk', width: size, height: size, steps: Number(args.steps), guidanceScale: 7, seed: 1234, rng: 'cpu' as const };
  const rss: number[] = [];
  const t0 = performance.now();
  const scenario = args.scenario!;
  let kept = scenario === 'reload' ? null : await loadModel(folder, { provider: 'cpu', lowMemory: scenario === 'low-memory' });
  for (let i = 0; i < cycles; i++) {
    const model = kept ?? (await loadModel(folder, { provider: 'cpu' }));
    await txt2img(model, { ...params, seed: 1234 + i });
    if (!kept) await model.release();
    gc();
    rss.push(process.memoryUsage().rss / MB);
  }
  if (kept) await kept.release();
  kept = null;
  gc();
  const after = process.memoryUsage().rss / MB;
  process.stdout.write(`RESULT ${JSON.stringify({ rss, after, ms: performance.now() - t0 })}\n`);
}

// ---------------------------------------------------------------- parent
interface Result {
  model: string;
  size: number;
  scenario: Scenario;
  rss: number[];
  after: number;
  ms: number;
}

/** Least-squares slope (MB per cycle) of ys over their indices. */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  ys.forEach((y, i) => {
    sxy += (i - mx) * (y - my);
    sxx += (i - mx) ** 2;
  });
  return sxy / sxx;
}

function runChild(folder: string, scenario: Scenario, size: number): Omit<Result, 'model' | 'size' | 'scenario'> {
  const tsxCli = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const argv = ['--expose-gc', tsxCli, SELF, '--child', '--model', folder, '--scenario', scenario, '--size', String(size), '--steps', args.steps, '--cycles', args.cycles];
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * MB, timeout: 60 * 60 * 1000 });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr?.slice(-2000)}`);
  return JSON.parse(line.slice('RESULT '.length));
}

const f0 = (n: number) => n.toFixed(0);
const f2 = (n: number) => (n >= 0 ? '+' : '') + n.toFixed(2);

async function parent(): Promise<void> {
  const started = new Date();
  const loadBefore = os.loadavg()[0];
  const results: Result[] = [];
  for (const m of MODELS) {
    const size = m.fixedSize ?? Number(args.size);
    for (const scenario of SCENARIOS) {
      const r = { model: m.name, size, scenario, ...runChild(m.folder, scenario, size) };
      results.push(r);
      const tail = r.rss.slice(5);
      console.log(`${m.name} ${size}² ${scenario}: RSS cycle 1 ${f0(r.rss[0])} MB, cycle 6 ${f0(r.rss[5] ?? r.rss.at(-1)!)} MB, last ${f0(r.rss.at(-1)!)} MB, slope ${f2(slope(tail))} MB/cycle, ${(r.ms / 1000).toFixed(0)} s`);
    }
  }
  const loadAfter = os.loadavg()[0];
  const cpus = os.cpus();
  const machine = `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} logical cores, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${os.type()} ${os.release()} (${os.arch()})`;
  let ortVersion = 'unknown';
  try {
    ortVersion = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    /* unknown */
  }
  const stamp = started.toISOString().replace('T', ' ').slice(0, 16);
  const rows = results.map((r) => {
    const tail = r.rss.slice(5);
    const s = slope(tail);
    const sessions = r.model === 'demo' ? 4 : 3; // demo has a vae_encoder; sd15-compute has none
    const perCycle = r.scenario === 'kept' ? 0 : r.scenario === 'reload' ? sessions : 3;
    return `| ${r.model} | ${r.size}×${r.size} | ${r.scenario} | ${perCycle} | ${f0(r.rss[0])} | ${f0(r.rss[Math.min(5, r.rss.length - 1)])} | ${f0(Math.max(...r.rss))} | ${f0(r.rss.at(-1)!)} | ${f2(r.rss.at(-1)! - r.rss[Math.min(5, r.rss.length - 1)])} | **${f2(s)}** | ${perCycle ? f2((s * 1024) / perCycle) : '—'} | ${f0(r.after)} | ${(r.ms / 1000).toFixed(0)} |`;
  });
  // Reading: churn rows against the same model's kept row (the control).
  const readings: string[] = [];
  for (const m of MODELS) {
    const rs = results.filter((r) => r.model === m.name);
    const kept = rs.find((r) => r.scenario === 'kept');
    const keptSlope = kept ? slope(kept.rss.slice(5)) : 0;
    for (const r of rs.filter((x) => x.scenario !== 'kept')) {
      const s = slope(r.rss.slice(5));
      const span = r.rss.at(-1)! - r.rss[Math.min(5, r.rss.length - 1)];
      const grows = s - keptSlope >= 0.5 && span >= 10;
      readings.push(
        `- **${r.model} ${r.scenario}**: ${grows ? `grows` : `no growth beyond noise`}: ${f2(s)} MB/cycle against ${f2(keptSlope)} with sessions kept; ${f2(span)} MB from cycle 6 to ${r.rss.length}.`,
      );
    }
  }
  const section = `## Session lifetime

Run: \`npm run bench -- session-leak\` (\`bench/session-leak-bench.ts\`) — ${stamp} UTC.
Machine: ${machine}; shared with other work (1-min load average ${loadBefore.toFixed(1)} at start, ${loadAfter.toFixed(1)} at end).
Node ${process.version}, onnxruntime-node ${ortVersion}, execution provider \`cpu\`, ${args.cycles} cycles per row, txt2img ${args.steps} steps, CFG 7.

Question: onnxruntime-node is reported to leak across session create/release (microsoft/onnxruntime#25325).
Each row is a fresh process (\`node --expose-gc\`, \`gc()\` after every cycle); RSS is read after each cycle.
*reload*: load → generate → release every cycle (all sessions re-created); *low-memory*: loaded once in low-memory mode, so every
generation creates and releases the sessions it uses; *kept*: loaded once, sessions kept (the control, no session churn).
**Slope** is the least-squares RSS growth per cycle over cycles 6…${args.cycles} (the first five fill arenas and caches).

| Model | size | scenario | sessions created per cycle | RSS cycle 1 MB | RSS cycle 6 MB | max MB | last MB | last − cycle 6 MB | **slope MB/cycle** | KB per session create/release | RSS after release MB | time s |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

${readings.join('\n')}

${DECISION}
`;
  console.log(`\n${section}`);
  if (!args['no-write']) console.log(`wrote ${writeBenchmarkSection('## Session lifetime', section)}`);
}

await (args.child ? child() : parent());
