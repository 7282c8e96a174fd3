/**
 * Turns a source image and one or two axes into the generate requests of a variant grid.
 *
 * A lighting or reflection value replaces the phrase of the same kind already in the prompt
 * ("…, lit from the right" varied to "lit from the left" gives "…, lit from the left", never both),
 * so each cell changes one thing. Two axes make an X/Y grid (rows × columns, row-major).
 */
import type { GenerationRecord } from '../../common/api/contract';
import type { GenerateRequest } from '../../common/api/schemas';
import { fromA1111, resolveScheduler, schedulerLabel } from '../../common/schedulers';
import { CONTROL_UNITS_MAX, requestUnitsOfRecord, structureUnit, type StructureLock } from './control-units';
import { hadPaintedMask, initGenerationOf, outpaintOf } from './init-image';
import { LIGHTING_PRESETS, REFLECTION_PRESETS, appendToPrompt, parseNumberList, randomSeed, type VariantAxis } from './presets';

export interface VariantSpec {
  label: string;
  request: GenerateRequest;
}

/**
 * Everything needed to make `source` again (seed included), as a request with `source` as parent.
 * An img2img or outpaint result keeps its init image, strength and frame; an inpainting with a
 * painted mask cannot (the mask is not stored) and runs from text. ControlNet units come along with
 * their control image (a generation of the project, or an opened file the project keeps, by ref).
 */
export function baseRequest(source: GenerationRecord): GenerateRequest {
  const initId = source.strength != null && !hadPaintedMask(source) ? initGenerationOf(source) : null;
  const outpaint = initId ? outpaintOf(source) : null;
  const controlNets = requestUnitsOfRecord(source);
  return {
    modelId: source.modelId,
    prompt: source.prompt,
    negativePrompt: source.negativePrompt,
    width: source.width,
    height: source.height,
    steps: source.steps,
    guidanceScale: source.guidanceScale,
    ...(source.clipSkip > 1 ? { clipSkip: source.clipSkip } : {}),
    scheduler: source.scheduler,
    seed: source.seed,
    rng: source.rng === 'cuda' ? 'cuda' : 'cpu',
    batchSize: 1,
    parentId: source.id,
    ...(initId ? { initImage: { generationId: initId }, strength: source.strength! } : {}),
    ...(outpaint ? { outpaint: { ...outpaint.margins, ...(outpaint.fill ? { fill: outpaint.fill } : {}) } } : {}),
    ...(controlNets.length > 0 ? { controlNets } : {}),
  };
}

export interface VariantOptions {
  /** "Lock composition": run every variant as img2img from the source at this strength (0–1). */
  lockStrength?: number;
  /**
   * "Lock structure": the source becomes a ControlNet unit (its edges or depth, made by the annotator)
   * through the named installed ControlNet, so the geometry stays exactly while the axis changes.
   */
  structure?: { lock: StructureLock; controlNet: string; weight?: number };
}

/** Default img2img strength for locked-composition variants: enough to relight, not to re-frame. */
export const DEFAULT_LOCK_STRENGTH = 0.5;

/** Most cells one grid may queue (a 6 × 6 X/Y grid). */
export const MAX_VARIANT_CELLS = 36;

// ------------------------------------------------------------------------------------------
// Phrases of a kind: which words in a prompt say how it is lit, or what it is reflected in.

type PhraseKind = 'lighting' | 'reflection';

const WORDS = "(?:[\\p{L}\\p{N}'-]+ ){0,2}[\\p{L}\\p{N}'-]+";
const KIND_PATTERNS: Record<PhraseKind, readonly RegExp[]> = {
  lighting: [
    /\b(?:lit|lighted|illuminated|lighting|light) from (?:the )?(?:left|right|top|above|below|behind|front|back|side)\b/giu,
    /\b(?:golden|blue) hour(?: light(?:ing)?)?\b/giu,
    /\b(?:overcast )?softbox light(?:ing)?\b/giu,
    /\bhard noon sun(?:light)?\b/giu,
    /\brim[ -]?light(?:ing)?\b/giu,
    /\bneon (?:light|lights|lighting|glow)\b/giu,
    /\bcandle-?light(?:ing)?\b/giu,
    /\bstudio strobes?\b/giu,
    /\bback-?lit\b/giu,
    /\bbacklight(?:ing)?\b/giu,
    /\b(?:dramatic|soft|hard|natural|cinematic|moody|warm|cool|studio|window|volumetric|ambient|low-key|high-key) (?:light|lighting)\b/giu,
  ],
  reflection: [
    new RegExp(`\\bwith (?:a |an |the )?(?:[\\p{L}-]+ )?reflections? (?:on|in) (?:a |an |the )?${WORDS}`, 'giu'),
    new RegExp(`\\breflected in (?:a |an |the )?${WORDS}`, 'giu'),
    /\bwith (?:a |an )?(?:[\p{L}-]+ )?reflections?\b/giu,
    /\b(?:chrome|mirror|glossy|specular|water|floor) reflections?\b/giu,
  ],
};

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Where the prompt already says something of this kind (the built-in patterns, plus `known` phrases). */
function kindSpans(prompt: string, kind: PhraseKind, known: readonly string[]): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  const literals = known.filter((k) => k.trim()).map((k) => new RegExp(`(?<![\\p{L}\\p{N}])${escapeRe(k.trim())}(?![\\p{L}\\p{N}])`, 'giu'));
  for (const re of [...literals, ...KIND_PATTERNS[kind]]) {
    for (const m of prompt.matchAll(re)) spans.push([m.index!, m.index! + m[0].length]);
  }
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: Array<[number, number]> = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]);
    else merged.push([s[0], s[1]]);
  }
  return merged;
}

/** Phrases that read inside a clause ("a vase lit from the left") rather than as a clause of their own. */
const PARTICIPIAL = /^(?:lit|lighted|illuminated|reflected|with)\b/i;
/** A connective left behind when a phrase is taken out of its clause ("a vase and ⟨lit from the right⟩"). */
const TRAILING_CONNECTOR = /(?:\s+(?:and|with))?\s*$/i;

/**
 * Puts `phrase` into `prompt` as its `kind` phrase: replaces what the prompt already says of that
 * kind (every occurrence goes; the first one's place is kept), else appends it with a comma.
 */
export function setKindPhrase(prompt: string, phrase: string, kind: PhraseKind, known: readonly string[] = []): string {
  const value = phrase.trim();
  const spans = kindSpans(prompt, kind, [...(kind === 'lighting' ? LIGHTING_PRESETS : REFLECTION_PRESETS), ...known]);
  if (spans.length === 0) return value ? appendToPrompt(prompt, value) : prompt;
  let out = '';
  let at = 0;
  let pendingAppend: string | null = null;
  spans.forEach(([start, end], i) => {
    // Is the match a clause of its own (between commas), or inside a longer one?
    const clauseStart = prompt.lastIndexOf(',', start - 1) + 1;
    const nextComma = prompt.indexOf(',', end);
    const rest = (prompt.slice(clauseStart, start) + prompt.slice(end, nextComma < 0 ? prompt.length : nextComma)).replace(/\b(?:and|with)\b/gi, '').trim();
    const inPlace = i === 0 && value !== '' && (rest === '' || PARTICIPIAL.test(value));
    // Taken out of a longer clause: drop the "and"/"with" that joined it too.
    const cut = inPlace || rest === '' ? start : Math.max(at, start - (TRAILING_CONNECTOR.exec(prompt.slice(at, start))?.[0].length ?? 0));
    out += prompt.slice(at, cut);
    at = end;
    if (inPlace) out += value;
    else if (i === 0 && value) pendingAppend = value;
  });
  out += prompt.slice(at);
  const text = out
    .split(',')
    .map((p) => p.replace(/[ \t]{2,}/g, ' ').trim())
    .filter(Boolean)
    .join(', ');
  return pendingAppend ? appendToPrompt(text, pendingAppend) : text;
}

// ------------------------------------------------------------------------------------------
// Axes

export interface AxisValues {
  axis: VariantAxis;
  /**
   * As the user entered/picked them: numbers as text for seed/cfg/steps (a seed entry of "random"
   * or an empty list draws `count` random seeds), names for schedulers, phrases for
   * lighting/reflection/prompt text.
   */
  values: string[];
}

interface AxisStep {
  label: string;
  apply(req: GenerateRequest): GenerateRequest;
}

/** One axis as a list of request edits; every other parameter stays the source's. */
function axisSteps({ axis, values }: AxisValues, count: number): AxisStep[] {
  const clean = values.map((v) => v.trim()).filter(Boolean);
  switch (axis) {
    case 'seed': {
      const seeds = parseNumberList(clean.join(',')).filter((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32);
      const list = seeds.length > 0 ? seeds : Array.from({ length: count }, randomSeed);
      return list.map((seed) => ({ label: `seed ${seed}`, apply: (r) => ({ ...r, seed }) }));
    }
    case 'cfg':
      return parseNumberList(clean.join(','))
        .filter((n) => n >= 0 && n <= 50)
        .map((g) => ({ label: `CFG ${g}`, apply: (r) => ({ ...r, guidanceScale: g }) }));
    case 'steps':
      return parseNumberList(clean.join(','))
        .filter((n) => Number.isInteger(n) && n >= 1 && n <= 500)
        .map((steps) => ({ label: `${steps} steps`, apply: (r) => ({ ...r, steps }) }));
    case 'scheduler':
      // Typed names ("Euler a", "DPM++ 2M Karras") become the engine's ("…Scheduler+karras").
      return clean.map((name) => {
        const r = resolveScheduler(name);
        const scheduler = r.entry ? r.name : fromA1111(name).scheduler;
        return { label: schedulerLabel(scheduler), apply: (req) => ({ ...req, scheduler }) };
      });
    case 'lighting':
    case 'reflection':
      // Every value of this axis is "of the kind": a custom phrase replaces another custom one too.
      return clean.map((phrase) => ({ label: phrase, apply: (r) => ({ ...r, prompt: setKindPhrase(r.prompt, phrase, axis, clean) }) }));
    case 'prompt':
      return clean.map((phrase) => ({ label: phrase, apply: (r) => ({ ...r, prompt: appendToPrompt(r.prompt, phrase) }) }));
  }
}

function baseFor(source: GenerationRecord, options: VariantOptions): GenerateRequest {
  const base = options.lockStrength === undefined ? baseRequest(source) : lockComposition(source, options.lockStrength);
  if (!options.structure) return base;
  // Lock structure: the source's own edges/depth hold the geometry; at the source's size, so they line up.
  const { lock, controlNet, weight } = options.structure;
  const { outpaint: _o, ...rest } = base;
  const kept = (base.controlNets ?? []).slice(0, CONTROL_UNITS_MAX - 1);
  return { ...rest, width: source.width, height: source.height, controlNets: [...kept, structureUnit(lock, controlNet, source.id, weight)] };
}

/** Lock composition: img2img from the source, so the shot stays and only the axis changes. */
function lockComposition(source: GenerationRecord, strength: number): GenerateRequest {
  const { outpaint: _o, ...base } = baseRequest(source);
  return { ...base, width: source.width, height: source.height, initImage: { generationId: source.id }, strength: Math.min(1, Math.max(0.05, strength)) };
}

export function buildVariants(source: GenerationRecord, axis: VariantAxis, values: string[], count = 4, options: VariantOptions = {}): VariantSpec[] {
  const base = baseFor(source, options);
  return axisSteps({ axis, values }, count).map((s) => ({ label: s.label, request: s.apply(base) }));
}

export interface VariantGridSpec {
  /** Column labels (the first axis). */
  xLabels: string[];
  /** Row labels (the second axis); empty for a one-axis grid. */
  yLabels: string[];
  /** Row-major: cell (x, y) is `cells[y * xLabels.length + x]`. */
  cells: VariantSpec[];
}

/**
 * A one- or two-axis grid. With two axes (e.g. lighting × reflection, lighting × seed) every
 * column value is combined with every row value; random seeds are drawn once for the whole grid.
 */
export function buildVariantGrid(source: GenerationRecord, axes: AxisValues[], count = 4, options: VariantOptions = {}): VariantGridSpec {
  const base = baseFor(source, options);
  const [xAxis, yAxis] = axes;
  if (!xAxis) return { xLabels: [], yLabels: [], cells: [] };
  const xs = axisSteps(xAxis, count);
  const ys = yAxis && yAxis.axis !== xAxis.axis ? axisSteps(yAxis, count) : [];
  if (ys.length === 0 && yAxis && yAxis.axis !== xAxis.axis) return { xLabels: xs.map((s) => s.label), yLabels: [], cells: [] };
  const cells = ys.length === 0
    ? xs.map((x) => ({ label: x.label, request: x.apply(base) }))
    : ys.flatMap((y) => xs.map((x) => ({ label: `${x.label} · ${y.label}`, request: y.apply(x.apply(base)) })));
  return { xLabels: xs.map((s) => s.label), yLabels: ys.map((s) => s.label), cells };
}
