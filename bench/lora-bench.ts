/**
 * LoRA merge cost: what switching to a LoRA set costs at model load, on an SD-shaped graph.
 *
 *   npm run bench -- lora [--rank 32] [--full] [--no-write]
 *
 * The graph has every attention projection of SD 1.5's UNet at its real size and name (16
 * transformer blocks × attn1 q/k/v/out + attn2 q/k/v/out = 128 MatMuls, 320/640/1280 wide, cross
 * attention from 768), fp16 weights in one external-data file (~190 MB), as diffusers/optimum
 * export them. `--full` pads the data file to SD 1.5's fp16 UNet size (1.72 GB) with weights no
 * node uses, so the working-copy file copy costs what it would on the real model. The LoRA is
 * synthetic, kohya-named, rank `--rank`, touching all 128 projections.
 *
 * Each phase runs in a fresh child process (peak RSS is per process):
 *   plain   session from the installed files (the baseline)
 *   merge   read LoRA + merge + write working copy (cold cache) + session from it
 *   reuse   same LoRA set again: working copy reused, session only
 * Results go to docs/BENCHMARKS.md under "## LoRA merge" (only that section is replaced).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { model, ONNX_TYPE, type NodeSpec, type TensorSpec } from '../main/engine/doctor/onnx-encode';
import { applyLoras } from '../main/engine/lora';
import { createSession } from '../main/engine/ort-backend';
import { writeBenchmarkSection } from './benchmarks-doc';

const SELF = fileURLToPath(import.meta.url);
const { values: args } = parseArgs({
  strict: false,
  options: {
    phase: { type: 'string' },
    dir: { type: 'string' },
    rank: { type: 'string', default: '32' },
    full: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});

const SD15_UNET_FP16_BYTES = 1_719_000_000;

/** SD 1.5's transformer blocks: [module prefix, width]. */
function blocks(): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  [320, 640, 1280].forEach((w, b) => [0, 1].forEach((a) => out.push([`down_blocks.${b}/attentions.${a}`, w])));
  out.push(['mid_block/attentions.0', 1280]);
  [1280, 640, 320].forEach((w, i) => [0, 1, 2].forEach((a) => out.push([`up_blocks.${i + 1}/attentions.${a}`, w])));
  return out;
}

interface Projection {
  node: string;
  kohya: string;
  inDim: number;
  outDim: number;
}

function projections(): Projection[] {
  const out: Projection[] = [];
  for (const [prefix, w] of blocks()) {
    for (const attn of ['attn1', 'attn2']) {
      for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) {
        const inDim = attn === 'attn2' && (p === 'to_k' || p === 'to_v') ? 768 : w;
        const path = `${prefix.replace('/', '/')}/transformer_blocks.0/${attn}/${p}`;
        out.push({ node: `/${path}/MatMul`, kohya: `lora_unet_${path.replace(/[./]/g, '_')}`, inDim, outDim: w });
      }
    }
  }
  return out;
}

/** Deterministic small fp16 values (|x| < 0.06), written straight as bits. */
function fp16Noise(n: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s & 1) << 15) | (0x1800 + ((s >>> 1) % 0x1000));
  }
  return out;
}

function makeFixture(dir: string, rank: number, full: boolean): void {
  const unet = path.join(dir, 'unet');
  mkdirSync(unet, { recursive: true });
  const fd = openSync(path.join(unet, 'weights.pb'), 'w');
  let offset = 0;
  const inits: TensorSpec[] = [];
  const nodes: NodeSpec[] = [];
  const widths = new Set<number>();
  projections().forEach((p, i) => {
    const bits = fp16Noise(p.inDim * p.outDim, i + 1);
    writeSync(fd, new Uint8Array(bits.buffer));
    const name = `onnx::MatMul_${1000 + i}`;
    inits.push({ name, dataType: ONNX_TYPE.float16, dims: [p.inDim, p.outDim], external: { location: 'weights.pb', offset, length: bits.byteLength } });
    offset += bits.byteLength;
    widths.add(p.inDim);
    nodes.push({ op: 'MatMul', name: p.node, inputs: [`x${p.inDim}`, name], outputs: [`y${i}`] });
  });
  if (full && offset < SD15_UNET_FP16_BYTES) {
    // The rest of a real UNet's weights (convs, FF, norms): bytes the working copy must carry along.
    const chunk = new Uint8Array(64 << 20);
    for (let left = SD15_UNET_FP16_BYTES - offset; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  }
  closeSync(fd);
  writeFileSync(path.join(unet, 'model.onnx'), model({
    nodes,
    initializers: inits,
    inputs: [...widths].map((w) => ({ name: `x${w}`, type: ONNX_TYPE.float16, shape: [1, w] })),
    outputs: nodes.map((n, i) => ({ name: n.outputs[0], type: ONNX_TYPE.float16, shape: [1, projections()[i].outDim] })),
  }));

  // The LoRA: kohya names, fp16 down/up, alpha = rank / 2.
  const header: Record<string, unknown> = { __metadata__: { ss_network_dim: String(rank), ss_base_model_version: 'sd_v1' } };
  const blobs: Uint8Array[] = [];
  let at = 0;
  const add = (name: string, shape: number[], bytes: Uint8Array) => {
    header[name] = { dtype: shape.length === 0 ? 'F32' : 'F16', shape, data_offsets: [at, at + bytes.length] };
    blobs.push(bytes);
    at += bytes.length;
  };
  projections().forEach((p, i) => {
    add(`${p.kohya}.lora_down.weight`, [rank, p.inDim], new Uint8Array(fp16Noise(rank * p.inDim, 7000 + i).buffer));
    add(`${p.kohya}.lora_up.weight`, [p.outDim, rank], new Uint8Array(fp16Noise(p.outDim * rank, 9000 + i).buffer));
    add(`${p.kohya}.alpha`, [], new Uint8Array(Float32Array.of(rank / 2).buffer));
  });
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeUInt32LE(json.length, 0);
  writeFileSync(path.join(dir, 'lora.safetensors'), Buffer.concat([len, json, ...blobs]));
}

async function childPhase(phase: string, dir: string): Promise<void> {
  const modelPath = path.join(dir, 'unet', 'model.onnx');
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let mergeMs = 0;
  let how = '';
  let file = modelPath;
  if (phase !== 'plain') {
    const applied = await applyLoras({ unet: modelPath }, [{ path: path.join(dir, 'lora.safetensors'), weight: 0.8 }], { cacheDir: path.join(dir, 'cache'), sdxl: false });
    mergeMs = performance.now() - t0;
    how = applied.copies.unet ?? '';
    file = applied.paths.unet!;
    if (applied.reports[0].matched !== 128) throw new Error(`expected 128 matched modules, got ${applied.reports[0].matched}`);
  }
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  const s = await createSession(file, { provider: 'cpu' });
  const sessionMs = performance.now() - t1;
  const c2 = process.cpuUsage();
  await s.release();
  // CPU seconds (user + system, all threads) next to wall time: on a busy shared machine wall time mostly measures the neighbours.
  const cpu = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user - a.user + b.system - a.system) / 1000;
  console.log(JSON.stringify({ phase, how, mergeMs, mergeCpuMs: cpu(c0, c1), sessionMs, sessionCpuMs: cpu(c1, c2), peakRssMb: process.resourceUsage().maxRSS / 1024, load: os.loadavg()[0] }));
}

const sec = (ms: number | string) => `${(Number(ms) / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  if (args.phase) return childPhase(String(args.phase), String(args.dir));
  const rank = Number(args.rank);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'atelier-lora-bench-'));
  try {
    const tMake = performance.now();
    makeFixture(dir, rank, Boolean(args.full));
    console.log(`fixture: 128 projections, rank ${rank}${args.full ? ', data padded to SD 1.5 fp16 size' : ''} (${((performance.now() - tMake) / 1000).toFixed(1)} s to write)`);
    const rows: Array<Record<string, number | string>> = [];
    for (const phase of ['plain', 'merge', 'reuse']) {
      const r = spawnSync(process.execPath, [...process.execArgv, SELF, '--phase', phase, '--dir', dir], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${phase} failed: ${r.stderr}`);
      const row = JSON.parse(r.stdout.trim().split('\n').pop()!);
      rows.push(row);
      console.log(row);
    }
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const lines = [
      '## LoRA merge',
      '',
      `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpu} (${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB), ${process.platform}/${process.arch}, Node ${process.version}, CPU provider, by \`npm run bench -- lora${args.full ? ' --full' : ''}\`.`,
      `SD-shaped graph: SD 1.5's 128 attention projections at real size and names (fp16, ~190 MB of weights)${args.full ? ', data file padded to the fp16 UNet size (1.72 GB)' : ''}; synthetic kohya LoRA, rank ${rank}, on all 128. Each phase in its own process.`,
      '',
      '| phase | working copy | merge (read LoRA, merge, write copy): wall / CPU | session creation: wall / CPU | peak RSS | load avg |',
      '|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.phase} | ${r.how || '—'} | ${r.phase === 'plain' ? '—' : `${sec(r.mergeMs)} / ${sec(r.mergeCpuMs)}`} | ${sec(r.sessionMs)} / ${sec(r.sessionCpuMs)} | ${Number(r.peakRssMb).toFixed(0)} MB | ${Number(r.load).toFixed(1)} |`),
      '',
    ];
    if (!args['no-write']) console.log(`wrote ${writeBenchmarkSection('## LoRA merge', lines.join('\n'))}`);
    else console.log(lines.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
