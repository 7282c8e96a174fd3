/**
 * What content credentials cost a save: `addGeneration` of a 1024×1024 image into a project that
 * signs (C2PA manifest, ES256, @contentauth/c2pa-node) vs one that does not, measured alternately in
 * one loop (same image, same disk, durable writes), plus the signing step alone and a verify.
 * Where the time goes: the signing step is also timed inside each signed save (wall, user and
 * system CPU), so it can be compared with the same step run on its own.
 * Target: signing adds ≤ 15% to a save.
 *
 * A second process repeats the save loop with glibc told to keep freed memory (MALLOC_MMAP_THRESHOLD_ /
 * MALLOC_TRIM_THRESHOLD_): a diagnostic row showing how much of the cost is fresh memory being
 * faulted in for the binding's buffers (not how Atelier runs).
 *
 *   npx tsx bench/provenance-bench.ts [--runs 20] [--no-write] [--no-diagnostic]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ProjectLibrary } from '../main/library';
import { Provenance, type SignOutcome } from '../main/provenance';
import { cpuMs, fmt, loadAverage, machineLine, median, msSince as ms, realisticImage } from './bench-helpers';
import { writeBenchmarkSection } from './benchmarks-doc';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, 'no-write': { type: 'boolean', default: false }, 'no-diagnostic': { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
});
const RUNS = Number(values.runs);
const SIZE = 1024;

/** The signing step as it runs inside a save: wall time, user and system CPU of the process. */
const inSave = { wall: [] as number[], user: [] as number[], sys: [] as number[] };
let timing = false;
class TimedProvenance extends Provenance {
  override async signGeneration(...args: Parameters<Provenance['signGeneration']>): Promise<SignOutcome> {
    if (!timing) return super.signGeneration(...args);
    const u0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const out = await super.signGeneration(...args);
    const u = process.cpuUsage(u0);
    inSave.wall.push(ms(t0));
    inSave.user.push(u.user / 1000);
    inSave.sys.push(u.system / 1000);
    return out;
  }
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-prov-bench-'));
const provenance = new TimedProvenance(path.join(root, 'home'), { appVersion: '0.1.0' });
const plain = await ProjectLibrary.create(root, 'unsigned');
const signed = await ProjectLibrary.create(root, 'signed', { provenance });
const image = realisticImage(SIZE, SIZE, 3, 4);
const params = (seed: number) => ({
  modelId: 'sdxl-base', modelHash: 'f'.repeat(64), modelFamily: 'sdxl', provider: 'cuda', prompt: 'a lighthouse at dusk, warm rim light, 35mm photo', negativePrompt: 'blurry',
  seed, rng: 'cuda' as const, scheduler: 'EulerDiscreteScheduler', steps: 30, guidanceScale: 5, width: SIZE, height: SIZE, appVersion: '0.1.0',
});

// Warm-up: loads the native C2PA library, creates the installation key, primes sharp and SQLite.
for (let i = 0; i < 2; i++) {
  await plain.addGeneration({ image, params: params(i) });
  await signed.addGeneration({ image, params: params(i) });
  await plain.flushThumbnails();
  await signed.flushThumbnails();
}

const plainTimes: number[] = [];
const signedTimes: number[] = [];
// CPU time of the process (all threads: sharp's encoder, the C2PA library) per save: far less
// sensitive than wall time to other work competing for the cores.
const plainCpu: number[] = [];
const signedCpu: number[] = [];
for (let i = 0; i < RUNS; i++) {
  // Alternate which goes first so drift on a busy machine hits both alike.
  const order = i % 2 ? [plain, signed] : [signed, plain];
  for (const lib of order) {
    const c0 = cpuMs();
    const t0 = process.hrtime.bigint();
    timing = lib === signed;
    await lib.addGeneration({ image, params: params(100 + i) });
    timing = false;
    (lib === signed ? signedTimes : plainTimes).push(ms(t0));
    (lib === signed ? signedCpu : plainCpu).push(cpuMs() - c0);
    await lib.flushThumbnails(); // off the critical path; never overlapping the next save
  }
}

// The signing step alone, on the exact bytes a save signs.
const sample = signed.history({ limit: 1 }).items[0];
const signedFile = fs.readFileSync(sample.imagePath);
const unsignedFile = fs.readFileSync(plain.history({ limit: 1 }).items[0].imagePath);
const signOnly: number[] = [];
const verifyTimes: number[] = [];
for (let i = 0; i < RUNS; i++) {
  let t0 = process.hrtime.bigint();
  const out = await provenance.signGeneration(unsignedFile, { id: `bench${i}`, params: { ...params(i), clipSkip: 1, batchIndex: 0, strength: null, maskRef: null, initImageRef: null, parentId: null, timings: null }, disclosure: 'full' });
  signOnly.push(ms(t0));
  if (!out.signed) throw new Error(`signing failed: ${out.warnings.join('; ')}`);
  t0 = process.hrtime.bigint();
  const v = await provenance.verify(signedFile);
  verifyTimes.push(ms(t0));
  if (v.state !== 'valid') throw new Error(`verify says ${v.state}`);
}
plain.close();
signed.close();
fs.rmSync(root, { recursive: true, force: true });

const plainMed = median(plainTimes);
const signedMed = median(signedTimes);
const overhead = signedMed / plainMed - 1;
const overheadMin = Math.min(...signedTimes) / Math.min(...plainTimes) - 1;
const overheadCpu = median(signedCpu) / median(plainCpu) - 1;
const load = loadAverage();

if (values.json) {
  // The diagnostic child: the save loop's results only.
  console.log(JSON.stringify({ plainMed, signedMed, overhead, overheadCpu, plainCpu: median(plainCpu), signedCpu: median(signedCpu), signUser: median(inSave.user), signSys: median(inSave.sys), signWall: median(inSave.wall) }));
  process.exit(0);
}

/** The same loop in a process whose allocator keeps freed memory (glibc tunables), for comparison. */
const KEEP_MEMORY = { MALLOC_MMAP_THRESHOLD_: '134217728', MALLOC_TRIM_THRESHOLD_: '268435456' };
let diagnostic: { plainMed: number; signedMed: number; overhead: number; overheadCpu: number; plainCpu: number; signedCpu: number; signUser: number; signSys: number; signWall: number } | null = null;
if (!values['no-diagnostic']) {
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--runs', String(RUNS), '--json', '--no-write'], {
    env: { ...process.env, ...KEEP_MEMORY },
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = child.stdout?.trim().split('\n').pop();
  try {
    diagnostic = JSON.parse(line ?? '');
  } catch {
    console.error(`diagnostic run failed (exit ${child.status}): ${child.stderr?.slice(-2000)}`);
  }
}
const diagnosticRows = diagnostic
  ? `| Diagnostic, a second process with glibc keeping freed memory (${Object.entries(KEEP_MEMORY).map(([k, v]) => `${k}=${v}`).join(' ')}; not how Atelier runs): save median unsigned / signed; CPU per save unsigned / signed; signing step in saves CPU user / system | ${fmt(diagnostic.plainMed)} / ${fmt(diagnostic.signedMed)} ms = +${(diagnostic.overhead * 100).toFixed(1)}%; ${fmt(diagnostic.plainCpu)} / ${fmt(diagnostic.signedCpu)} ms = +${(diagnostic.overheadCpu * 100).toFixed(1)}%; ${fmt(diagnostic.signUser)} / ${fmt(diagnostic.signSys)} ms | — | |
`
  : '';
const section = `## Content credentials

Run: \`npx tsx bench/provenance-bench.ts\` — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC,
${machineLine()},
@contentauth/c2pa-node 0.5.5 (c2pa-rs), ES256 with the installation's self-signed P-256 key.
Load average at the end (1/5/15 min): ${load}.

| Measure | Result | Target | |
|---|---|---|---|
| addGeneration ${SIZE}×${SIZE} (encode + metadata + write + fsync + row), unsigned project, median of ${RUNS} | ${fmt(plainMed)} ms (PNG ${(signedFile.length / 1024 / 1024).toFixed(2)} MiB) | — | |
| Same save into a signing project (C2PA manifest, no claim thumbnail), median of ${RUNS} | ${fmt(signedMed)} ms = **+${(overhead * 100).toFixed(1)}%** | ≤ +15% | ${overhead <= 0.15 ? 'pass' : 'FAIL'} |
| Same, best of ${RUNS} each (least disturbed by other load) | ${fmt(Math.min(...signedTimes))} / ${fmt(Math.min(...plainTimes))} ms = +${(overheadMin * 100).toFixed(1)}% | ≤ +15% | ${overheadMin <= 0.15 ? 'pass' : 'FAIL'} |
| CPU time per save (process, all threads), median: unsigned / signed | ${fmt(median(plainCpu))} / ${fmt(median(signedCpu))} ms = +${(overheadCpu * 100).toFixed(1)}% | ≤ +15% | ${overheadCpu <= 0.15 ? 'pass' : 'FAIL'} |
| The signing step inside those saves: wall median / best; CPU user / system, median | ${fmt(median(inSave.wall))} / ${fmt(Math.min(...inSave.wall))} ms; ${fmt(median(inSave.user))} / ${fmt(median(inSave.sys))} ms | — | |
| The signing step alone on the saved bytes, in a loop (manifest build + hash + ES256 + embed), median / best | ${fmt(median(signOnly))} / ${fmt(Math.min(...signOnly))} ms | — | |
| Verify with the official reader (\`Reader.fromAsset\`, full validation), median | ${fmt(median(verifyTimes))} ms | — | |
${diagnosticRows}
Wall and CPU times both grow with the machine's load (see the load average): the best-of row is the closest to an idle
machine. The manifest adds ~${((signedFile.length - unsignedFile.length) / 1024).toFixed(0)} KiB to the file. Edits (img2img, upscale…) additionally read the parent
file to embed it as an ingredient; exports to JPEG/WebP are signed after the re-encode.

**Where the time goes** (profiled on this machine on 2026-12-02, step by step and A/B in one process). The whole cost is the
one \`Builder.sign\` call of @contentauth/c2pa-node on the file's bytes: the binding copies the input into Rust, c2pa-rs
writes the PNG out with a placeholder manifest, hashes the whole file (SHA-256 over ~${(signedFile.length / 1024 / 1024).toFixed(1)} MiB), signs (ES256), writes it
out again with the final manifest, and the binding copies the result back twice (\`read_to_end\`, \`JsBuffer::from_slice\`).
About 2 ms of it is fixed (a 16×16 PNG signs in 1.7–2 ms CPU; 0.6 ms of that is the per-builder settings), the rest
scales with the file. Alone in a loop it costs ~8–10 ms CPU (the "alone" row, best); inside real saves the same call costs
several times that (the "inside those saves" row) because each of its multi-MiB buffers is fresh memory: between saves
the allocator hands the previous save's buffers (sharp's, the binding's) back to the kernel, and they are faulted in again
(system time, and user time zeroing pages). The diagnostic row runs the same loop with glibc told to keep freed memory:
what is left there is the binding's copying and hashing. Ruled out (no gain, or not happening): a new signer per save (it
is cached per identity), reading the key and certificate per save (once per project), a claim thumbnail (off: it would
decode and re-encode the image), verify-after-sign (off), re-reading the PNG from disk (the bytes are signed in memory),
a second sharp encode (none); signing to a file path instead of a buffer, and \`signAsync\` with a Node-crypto
\`CallbackSigner\`, and signing in a persistent worker thread (its own allocator arena) were not cheaper in A/B runs. What could meet the target on this machine (not tried: the binding does not offer it):
c2pa's data-hashed embeddable signing (Atelier hashes the bytes itself with OpenSSL, ~2 ms, and c2pa only builds and signs
the claim), or a binding that reuses its buffers. Starting Atelier with the two glibc variables above would cut most of
the in-save signing cost on Linux, at the price of the process keeping up to 256 MiB of freed heap (not done: a launcher change, and the diagnostic
row still misses the target). **Verdict: ${overhead <= 0.15 && overheadMin <= 0.15 ? 'pass' : 'FAIL'}** — signing adds +${(overhead * 100).toFixed(0)}% (median) / +${(overheadMin * 100).toFixed(0)}% (best) to a ${SIZE}² save in this run, against ≤ +15%.
`;
console.log(section);
if (!values['no-write']) console.log(`wrote ${writeBenchmarkSection('## Content credentials', section)}`);
