/**
 * Issue 15 fuzz (seeded, bounded): the A1111 prompt-weighting parser (attention weights, prompt
 * editing/alternation schedules) and the infotext parser, on random and mutated text. Only the typed
 * PromptSyntaxError may come out of the prompt parser, nothing at all out of the infotext parser
 * (dropped files are untrusted), no call takes long (no catastrophic backtracking), and the output
 * keeps its shape. ATELIER_FUZZ_SEED / ATELIER_FUZZ_SCALE: see fuzz-kit.ts.
 */
import { describe, expect, it } from 'vitest';
import { formatInfotext, infotextToParams, parseInfotext } from '../../common/infotext';
import { getPromptSchedules, parsePromptAttention } from '../../main/engine';
import { budget, cases, FUZZ_SEED, mutateString, Rng } from './fuzz-kit';

const PROMPT_TOKENS = [
  '(', ')', '[', ']', ':', '|', '\\', ',', ' ', ' ', 'a', 'cat', 'photo of', 'AND', 'BREAK', '\n', '\t', '1', '0.5', '1.5', '-2', '1e9', '1e309', 'nan', 'inf', '.', '-', ':1.2)', '[a:b:0.5]', '[a|b]', '[x:y:3]', '((', '))', '[[', ']]', '\\(', '\\)', 'é', '🙂', '\u0000', '\u2028', '٣', '::', '||',
];
/** Generous: this runs on shared 2-core machines; a hang or a blow-up takes orders of magnitude longer. */
const SLOW_MS = 2_000;
/**
 * The worst shapes the API accepts (prompts are at most 20,000 characters). Unclosed brackets cost
 * A1111's algorithm (which ours follows) quadratic time — '[a:' × 6,666 takes about a second here —
 * so these get a larger bound; anything exponential would still blow through it.
 */
const ADVERSARIAL_MS = 5_000;

function checkAttention(text: string, where: string, slowMs = SLOW_MS): void {
  const started = performance.now();
  let out: Array<[string, number]>;
  try {
    out = parsePromptAttention(text);
  } catch (err) {
    expect((err as Error).name, `${where}: ${String(err)}`).toBe('PromptSyntaxError');
    return;
  }
  expect(performance.now() - started, `${where}: slow`).toBeLessThan(slowMs);
  expect(Array.isArray(out), where).toBe(true);
  for (const item of out) {
    expect(typeof item[0], where).toBe('string');
    expect(typeof item[1], where).toBe('number');
  }
}

function checkSchedules(text: string, steps: number, where: string, slowMs = SLOW_MS): void {
  const started = performance.now();
  let out: Array<[number, string]>;
  try {
    out = getPromptSchedules(text, steps);
  } catch (err) {
    expect((err as Error).name, `${where}: ${String(err)}`).toBe('PromptSyntaxError');
    return;
  }
  expect(performance.now() - started, `${where}: slow`).toBeLessThan(slowMs);
  expect(out.length, where).toBeGreaterThan(0);
  expect(out.length, where).toBeLessThanOrEqual(steps + 1);
  let last = -Infinity;
  for (const [step, s] of out) {
    expect(Number.isFinite(step), where).toBe(true);
    expect(step, where).toBeGreaterThanOrEqual(last);
    expect(typeof s, where).toBe('string');
    last = step;
  }
}

describe(`prompt-weighting parser fuzz (seed ${FUZZ_SEED})`, () => {
  it('random token soups: only PromptSyntaxError, never slow', () => {
    const rng = new Rng(FUZZ_SEED);
    const more = budget(8_000);
    let n = 0;
    for (let i = 0; i < cases(3000) && more(); i++, n++) {
      const text = rng.stringFrom(PROMPT_TOKENS, rng.int(0, 60));
      const where = `seed ${FUZZ_SEED} case ${i} ${JSON.stringify(text)}`;
      checkAttention(text, where);
      checkSchedules(text, rng.int(1, 150), where);
    }
    expect(n).toBeGreaterThan(10);
  });

  it('mutations of realistic prompts, and adversarial shapes', () => {
    const rng = new Rng(FUZZ_SEED ^ 0x9e3779b9);
    const seeds = [
      'a (red:1.3) cube on a [wooden:marble:0.4] table, (studio light), [[soft shadows]]',
      '[cat|dog|bird] in the snow AND a mountain :0.7 BREAK ((masterpiece)), \\(literal\\)',
      'a photo of [a:[b:c:0.8]:0.3] with ((((nested)))) weights (x:-1.5) [y:5]',
    ];
    const MAX = 20_000; // GenerateRequest.prompt's limit
    const adversarial = ['(', '[', '[a:', '[a|', '[a:b:', '\\', 'x:', ' AND ', 'BREAK ', '(a:1.1)', '[[a]:b:0.5]'].map((unit) => unit.repeat(Math.floor(MAX / unit.length)));
    adversarial.push('['.repeat(MAX / 2) + ':'.repeat(MAX / 2));
    for (const [i, text] of adversarial.entries()) {
      expect(text.length).toBeLessThanOrEqual(MAX);
      checkAttention(text, `adversarial ${i} ${JSON.stringify(text.slice(0, 12))}…`, ADVERSARIAL_MS);
      checkSchedules(text, 150, `adversarial ${i} ${JSON.stringify(text.slice(0, 12))}…`, ADVERSARIAL_MS);
    }
    const more = budget(8_000);
    for (let i = 0; i < cases(2000) && more(); i++) {
      let text = rng.pick(seeds);
      for (let k = rng.int(1, 6); k > 0; k--) text = mutateString(rng, text, PROMPT_TOKENS);
      const where = `seed ${FUZZ_SEED} mutation ${i} ${JSON.stringify(text)}`;
      checkAttention(text, where);
      checkSchedules(text, rng.int(1, 150), where);
    }
  });
});

const INFOTEXT_TOKENS = [',', ':', ' ', '"', '\\', '\\"', '\n', 'Steps', 'Size', 'x', '512', '-1', '1e999', 'Seed', 'Sampler', 'DPM++ 2M', 'Karras', 'Negative prompt:', 'CFG scale', 'Model hash', 'Clip skip', 'Denoising strength', 'RNG', 'é', '🙂', '\u0000', '{', '}', '"a, b"', '0x1F', 'NaN', 'Infinity'];

describe(`infotext parser fuzz (seed ${FUZZ_SEED})`, () => {
  it('never throws, never takes long, keeps its shape', () => {
    const rng = new Rng(FUZZ_SEED ^ 0x1234567);
    const base = [
      formatInfotext({ prompt: 'a (red:1.2) cube', negativePrompt: 'blurry, "quoted"', steps: 20, scheduler: 'DPMSolverMultistepScheduler+karras', guidanceScale: 7, seed: 42, width: 512, height: 768, modelHash: 'abcdef0123456789', modelId: 'sd15', strength: 0.5, rng: 'cpu', clipSkip: 2, appVersion: '0.1.0' }),
      'masterpiece\nNegative prompt: ugly\nSteps: 30, Sampler: Euler a, CFG scale: 5.5, Seed: 1, Size: 1024x1024, Model: sdxl, Lora hashes: "a: 1, b: 2", Version: v1.9',
    ];
    const more = budget(8_000);
    let n = 0;
    for (let i = 0; i < cases(3000) && more(); i++, n++) {
      let text = rng.bool(0.2) ? rng.stringFrom(INFOTEXT_TOKENS, rng.int(0, 80)) : rng.pick(base);
      for (let k = rng.int(0, 8); k > 0; k--) text = mutateString(rng, text, INFOTEXT_TOKENS);
      const where = `seed ${FUZZ_SEED} case ${i} ${JSON.stringify(text.slice(0, 300))}`;
      const started = performance.now();
      const parsed = parseInfotext(text);
      const notes: string[] = [];
      const params = infotextToParams(parsed, notes);
      expect(performance.now() - started, `${where}: slow`).toBeLessThan(SLOW_MS);
      expect(typeof parsed.prompt, where).toBe('string');
      expect(typeof parsed.negativePrompt, where).toBe('string');
      for (const v of Object.values(parsed.params)) expect(typeof v, where).toBe('string');
      for (const key of ['steps', 'guidanceScale', 'seed', 'width', 'height', 'clipSkip'] as const) {
        const v = params[key];
        if (v !== undefined) expect(Number.isFinite(v), `${where}: ${key}=${v}`).toBe(true);
      }
      for (const note of notes) expect(typeof note, where).toBe('string');
    }
    expect(n).toBeGreaterThan(10);
    // Long lines without separators (a dropped file's text chunk): linear, not quadratic.
    for (const text of ['a'.repeat(200_000), 'Steps: '.repeat(30_000), `"${'\\"'.repeat(50_000)}`, ':,'.repeat(100_000)]) {
      const started = performance.now();
      infotextToParams(parseInfotext(text));
      expect(performance.now() - started).toBeLessThan(2_000);
    }
  });
});
