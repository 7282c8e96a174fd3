/**
 * Load and soak benchmark (issue 15): `npm run bench -- soak [--generations 200] [--size 64]
 * [--steps 8] [--clients 20] [--seconds 30] [--no-write]`. The work is in bench/soak-lib.ts.
 *
 * Passes when: every generation ran in one engine process; the engine's resident memory after
 * generation 20 stays within ±10% of its value then; the engine's and the API process's open file
 * descriptors and the temporary files do not grow; with 20 clients reading the API while the engine
 * is busy, the 95th percentile of their calls is under 50 ms. Results go to docs/BENCHMARKS.md under
 * "## Load and soak" (only that section is replaced). Exits 1 when a criterion fails.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { writeBenchmarkSection } from './benchmarks-doc';
import { runLoad, runSoak, startHarness } from './soak-lib';

const { values } = parseArgs({
  strict: false,
  options: {
    generations: { type: 'string', default: '200' },
    size: { type: 'string', default: '64' },
    steps: { type: 'string', default: '8' },
    clients: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '30' },
    'no-write': { type: 'boolean', default: false },
  },
});
const args = values as { generations: string; size: string; steps: string; clients: string; seconds: string; 'no-write': boolean };
const log = (line: string) => console.log(line);

const loadBefore = os.loadavg()[0];
const startedAt = new Date();
const h = await startHarness();
let soak;
let load;
let idle;
try {
  log(`soak: ${args.generations} generations (${args.size}², ${args.steps} steps, demo model) in one engine process`);
  soak = await runSoak(h, { generations: Number(args.generations), size: Number(args.size), steps: Number(args.steps), log });
  log(`load: ${args.clients} clients, first with the engine idle (the API's own baseline), then busy`);
  idle = await runLoad(h, { clients: Number(args.clients), seconds: Math.min(10, Number(args.seconds)), busy: false, log });
  load = await runLoad(h, { clients: Number(args.clients), seconds: Number(args.seconds), log });
} finally {
  await h.close();
}
const loadAfter = os.loadavg()[0];

const checks = [
  { what: 'one engine process for every generation', ok: soak.enginePids.length === 1, detail: `${soak.enginePids.length} process(es)` },
  { what: `engine RSS after generation ${soak.baselineAt} within ±10%`, ok: Math.abs(soak.rssDriftPct) <= 10, detail: `${soak.baseline.engineRssMB.toFixed(0)} MB at ${soak.baselineAt}, then ${soak.rssMinMB.toFixed(0)}–${soak.rssMaxMB.toFixed(0)} MB (${soak.rssDriftPct >= 0 ? '+' : ''}${soak.rssDriftPct.toFixed(1)}%)` },
  {
    // Not one of the issue's bars: tells a plateau (allocator and heap warm-up) from a leak.
    what: 'engine RSS grows less than 3% over the second half (no leak)',
    ok: (() => {
      const mid = soak.samples[Math.floor(soak.samples.length / 2) - 1].engineRssMB;
      return (soak.samples[soak.samples.length - 1].engineRssMB - mid) / mid < 0.03;
    })(),
    detail: `${soak.samples[Math.floor(soak.samples.length / 2) - 1].engineRssMB.toFixed(0)} MB at ${Math.floor(soak.samples.length / 2)}, ${soak.samples[soak.samples.length - 1].engineRssMB.toFixed(0)} MB at ${soak.generations}`,
  },
  { what: 'no engine file-descriptor growth', ok: soak.engineFdGrowth <= 0, detail: `${soak.baseline.engineFds} fds at ${soak.baselineAt}, growth ${soak.engineFdGrowth}` },
  { what: 'no API-process file-descriptor growth', ok: soak.apiFdGrowth <= 0, detail: `${soak.baseline.apiFds} fds at ${soak.baselineAt}, growth ${soak.apiFdGrowth}` },
  { what: 'no temporary-file growth', ok: soak.tempFileGrowth <= 0, detail: `${soak.baseline.tempFiles} files at ${soak.baselineAt}, growth ${soak.tempFileGrowth}` },
  { what: `API reads p95 < 50 ms with ${load.clients} clients while the engine is busy`, ok: load.p95 < 50 && load.errors === 0 && load.engineSteps > 0, detail: `p50 ${load.p50.toFixed(1)} ms, p95 ${load.p95.toFixed(1)} ms, p99 ${load.p99.toFixed(1)} ms, max ${load.max.toFixed(0)} ms over ${load.calls} calls (${load.errors} errors); the engine made ${load.engineSteps} steps meanwhile` },
];
for (const c of checks) log(`${c.ok ? 'PASS' : 'FAIL'} ${c.what}: ${c.detail}`);
log(`  per method p95: ${Object.entries(load.byMethod).map(([m, v]) => `${m} ${v.p95.toFixed(1)} ms (${v.calls})`).join(', ')}`);

const cpus = os.cpus();
const machine = `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} logical cores, ${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM, ${os.type()} ${os.release()} (${os.arch()})`;
const every = soak.samples.filter((s) => s.generation === 1 || s.generation === soak.baselineAt || s.generation % 50 === 0 || s.generation === soak.generations);
const section = `## Load and soak

Run: \`npm run bench -- soak\` (\`bench/soak.ts\`, \`bench/soak-lib.ts\`) — ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.
Machine: ${machine}; shared with other work (1-min load average ${loadBefore.toFixed(1)} at start, ${loadAfter.toFixed(1)} at end).
Node ${process.version}, execution provider \`cpu\`, the bundled demo model, the real backend (API → queue → engine process → project library) in a temporary home.

**Soak**: ${soak.generations} consecutive generations (${soak.size}×${soak.size}, ${soak.steps} steps, a different prompt and seed each) in ${(soak.totalMs / 1000).toFixed(0)} s, measured after each from /proc.

| after generation | engine RSS MB | engine fds | API RSS MB | API fds | temp files | generation ms |
|---|---|---|---|---|---|---|
${every.map((s) => `| ${s.generation} | ${s.engineRssMB.toFixed(0)} | ${s.engineFds} | ${s.apiRssMB.toFixed(0)} | ${s.apiFds} | ${s.tempFiles} | ${s.ms.toFixed(0)} |`).join('\n')}

**Load**: ${load.clients} WebSocket clients calling ${Object.keys(load.byMethod).join(', ')} back to back for ${load.seconds} s while 256×256, 500-step generations keep the engine busy (it made ${load.engineSteps} steps meanwhile): ${load.calls} calls, ${load.errors} errors, latency p50 ${load.p50.toFixed(1)} ms, **p95 ${load.p95.toFixed(1)} ms**, p99 ${load.p99.toFixed(1)} ms, max ${load.max.toFixed(0)} ms.
Per method p95: ${Object.entries(load.byMethod).map(([m, v]) => `${m} ${v.p95.toFixed(1)} ms (${v.calls})`).join(', ')}; all calls but ${load.slowest}: p95 ${load.p95WithoutSlowest.toFixed(1)} ms.
With the engine idle (the API's own baseline, ${idle.seconds} s, ${idle.calls} calls): p50 ${idle.p50.toFixed(1)} ms, p95 ${idle.p95.toFixed(1)} ms; per method p95: ${Object.entries(idle.byMethod).map(([m, v]) => `${m} ${v.p95.toFixed(1)} ms`).join(', ')}.
${load.slowest === 'listModels' && load.byMethod.listModels.p95 > 50 ? `\n\`listModels\` sets the tail. Folder sizes are cached per folder (main/models/size-cache.ts) and concurrent listings share one read, so what remains is each model's manifest read and the libuv thread pool it shares with the engine's preview encoding; on this 2-core machine the engine (nice 10), the API process and the load generator also share the cores, so compare runs made on an otherwise idle machine.\n` : ''}

| criterion | result | |
|---|---|---|
${checks.map((c) => `| ${c.what} | ${c.detail} | ${c.ok ? 'pass' : '**FAIL**'} |`).join('\n')}

The reduced form runs in \`npm test\` (\`test/engine/soak.test.ts\`, about 15 s): 30 generations and 5 s of load, the same checks except a looser latency bar (p95 < 250 ms, max < 2 s: nothing waits for the engine) for shared CI machines.
`;
if (!args['no-write']) log(`wrote ${writeBenchmarkSection('## Load and soak', section)}`);
process.exit(checks.every((c) => c.ok) ? 0 : 1);
