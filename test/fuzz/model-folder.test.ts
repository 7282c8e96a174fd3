/**
 * Issue 15 fuzz (seeded, bounded): the model-folder loader on corrupted copies of a fixture model —
 * mutated JSON configs (model_index, scheduler, tokenizer), tokenizer files and ONNX graphs/weights
 * (headers especially). inspectModel (the file and config checks every install and load runs first)
 * may only throw ModelLoadError, naming a file. Loading and running the corrupted graphs happens in an
 * engine process, as in the app: only typed engine errors may come back, and the engine process
 * must never die (a native crash would show as EngineStoppedError).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectModel, isModelLoadError } from '../../main/engine';
import { EngineHost } from '../../main/engine-host/engine-host';
import { budget, cases, FUZZ_SEED, mutateBytesN, mutateString, Rng, within } from './fuzz-kit';

const FIXTURE = join(process.cwd(), 'test/fixtures/models/sd15-diffusers');
const root = mkdtempSync(join(tmpdir(), 'atelier-fuzz-models-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const JSON_FILES = ['model_index.json', 'scheduler/scheduler_config.json', 'tokenizer/tokenizer_config.json', 'tokenizer/special_tokens_map.json', 'tokenizer/vocab.json'];
const TEXT_FILES = ['tokenizer/merges.txt'];
const ONNX_FILES = ['text_encoder/model.onnx', 'unet/model.onnx', 'unet/weights.pb', 'vae_decoder/model.onnx', 'vae_encoder/model.onnx'];
const JSON_TOKENS = ['{', '}', '[', ']', '"', ':', ',', 'null', 'true', '-1', '1e999', '0', '"_class_name"', '"unet"', '"__proto__"', '\\', '\\u0000', ' ', '\n', 'é'];

let n = 0;
/** A fresh copy of the fixture with one or more files corrupted; returns the folder and what was done. */
function corruptedCopy(rng: Rng): { dir: string; what: string } {
  const dir = join(root, `m${n++}`);
  cpSync(FIXTURE, dir, { recursive: true });
  const done: string[] = [];
  for (let k = rng.int(1, 2); k > 0; k--) {
    const kind = rng.int(0, 9);
    if (kind < 4) {
      const f = rng.pick(JSON_FILES);
      let text = readFileSync(join(dir, f), 'utf8');
      for (let m = rng.int(1, 4); m > 0; m--) text = mutateString(rng, text, JSON_TOKENS);
      writeFileSync(join(dir, f), text);
      done.push(`json ${f}`);
    } else if (kind < 5) {
      const f = rng.pick(TEXT_FILES);
      writeFileSync(join(dir, f), mutateBytesN(rng, readFileSync(join(dir, f)), 3));
      done.push(`text ${f}`);
    } else {
      const f = rng.pick(ONNX_FILES);
      const bytes = readFileSync(join(dir, f));
      // Most cases hit the header (protobuf framing, opset, graph inputs), the rest anywhere.
      writeFileSync(join(dir, f), mutateBytesN(rng, bytes, 3, rng.bool(0.7) ? { start: 0, end: 512 } : undefined));
      done.push(`onnx ${f}`);
    }
  }
  return { dir, what: done.join(' + ') };
}

describe(`model folder loader fuzz (seed ${FUZZ_SEED})`, () => {
  it('inspectModel: only ModelLoadError, naming a file of the folder', () => {
    const rng = new Rng(FUZZ_SEED ^ 0x51ed);
    const more = budget(10_000);
    let refused = 0;
    let count = 0;
    for (let i = 0; i < cases(400) && more(); i++, count++) {
      const { dir, what } = corruptedCopy(rng);
      const where = `seed ${FUZZ_SEED} case ${i} (${what})`;
      try {
        inspectModel(dir);
      } catch (err) {
        expect(isModelLoadError(err), `${where}: ${(err as Error)?.name}: ${(err as Error)?.message}`).toBe(true);
        expect((err as Error).message.length, where).toBeGreaterThan(0);
        refused++;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    expect(count).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(0);
  });

  it('loading and running corrupted graphs in the engine process: typed errors only, the engine never dies', async () => {
    const rng = new Rng(FUZZ_SEED ^ 0x0badf00d);
    const TYPED = new Set(['ModelLoadError', 'SessionCreateError', 'NonFiniteOutputError', 'PipelineInputError', 'PromptSyntaxError']);
    const host = new EngineHost({ log: () => undefined, autoRestart: false });
    const seen = new Map<string, number>();
    try {
      const pid = (await host.load(FIXTURE, 'cpu'), host.enginePid);
      const more = budget(20_000);
      for (let i = 0; i < cases(40) && more(); i++) {
        const { dir, what } = corruptedCopy(rng);
        const where = `seed ${FUZZ_SEED} case ${i} (${what})`;
        let outcome = 'ok';
        try {
          await within(30_000, where, async () => {
            await host.load(dir, 'cpu');
            await host.generate({ mode: 'txt2img', params: { prompt: 'a red cube', negativePrompt: '', width: 64, height: 64, steps: 1, guidanceScale: 7.5, seed: i, rng: 'cpu' } }, 0);
          });
        } catch (err) {
          const e = err as Error;
          expect(e.name, `${where}: the engine died: ${e.message}`).not.toBe('EngineStoppedError');
          // A graph ONNX Runtime loaded but cannot run (a corrupted weight shape, a broken op) fails its
          // session.run with a message naming the graph; everything else is a typed load error.
          const typed = TYPED.has(e.name) || /session\.run failed/.test(e.message);
          expect(typed, `${where}: ${e.name}: ${e.message}`).toBe(true);
          outcome = e.name;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      }
      expect(host.enginePid, 'the same engine process served every case').toBe(pid);
      console.log(`model loader fuzz outcomes: ${JSON.stringify(Object.fromEntries(seen))}`);
    } finally {
      await host.close();
    }
  });
});
