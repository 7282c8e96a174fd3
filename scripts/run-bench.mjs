// `npm run bench [-- <name>... [--flag ...]]`: runs the benchmarks with tsx, one after another.
//   no names      → every bench/*-bench.ts, then bench/engine-overhead.ts, bench/memory.ts and bench/soak.ts
//   names         → only those (`library`, `library-bench`, `engine-overhead`, `memory`, `soak`, `bench/library-bench.ts`, …;
//                   `farm` = bench/farm-bench.ts: render farm, 1 vs 2 CPU workers on a redis-server of its own)
//   --flags ...   → everything from the first flag on is passed to every selected benchmark (e.g. `--no-write`)
// Exits non-zero if any benchmark fails; the others still run.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, 'bench');

const all = [
  ...readdirSync(benchDir).filter((f) => f.endsWith('-bench.ts')).sort(),
  ...['engine-overhead.ts', 'memory.ts', 'soak.ts'].filter((f) => existsSync(join(benchDir, f))),
].map((f) => join(benchDir, f));

const argv = process.argv.slice(2);
const firstFlag = argv.findIndex((a) => a.startsWith('-'));
const names = firstFlag < 0 ? argv : argv.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : argv.slice(firstFlag);

function pick(name) {
  const base = basename(name).replace(/\.ts$/, '');
  const hit = all.find((f) => {
    const b = basename(f, '.ts');
    return b === base || b === `${base}-bench`;
  });
  if (!hit) {
    console.error(`Unknown benchmark "${name}". Available: ${all.map((f) => basename(f, '.ts')).join(', ')}`);
    process.exit(2);
  }
  return hit;
}

const selected = names.length ? names.map(pick) : all;
const tsxCli = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const failed = [];
for (const file of selected) {
  const rel = relative(root, file);
  console.log(`\n=== ${rel} ${flags.join(' ')}`.trimEnd());
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [tsxCli, file, ...flags], { cwd: root, stdio: 'inherit' });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    failed.push(rel);
    console.error(`=== ${rel} failed (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`}) after ${secs} s`);
  } else {
    console.log(`=== ${rel} done in ${secs} s`);
  }
}
if (failed.length) {
  console.error(`\n${failed.length} benchmark(s) failed: ${failed.join(', ')}`);
  process.exit(1);
}
