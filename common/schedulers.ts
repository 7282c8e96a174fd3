/**
 * The one scheduler name table: every sampler Atelier's engine runs, with the names other tools
 * give it — the diffusers class (what the engine and `scheduler_config.json` say), A1111's sampler
 * and "Schedule type", ComfyUI's `sampler_name`/`scheduler`, InvokeAI's scheduler id. Every
 * lookup below is derived from this table; nothing else spells these names.
 *
 * Our canonical scheduler string is the class name, with "+karras" when Karras sigmas are asked
 * for (`common/api/scheduler-names.ts`), e.g. "DPMSolverMultistepScheduler+karras" = A1111
 * "DPM++ 2M" + "Schedule type: Karras" = ComfyUI dpmpp_2m + karras.
 *
 * Pure: no Node, no DOM.
 */
import { formatSchedulerName, parseSchedulerName } from './api/scheduler-names';

export interface SchedulerEntry {
  /** diffusers class name, as in scheduler_config.json `_class_name`. */
  readonly className: string;
  /** Accepts `use_karras_sigmas` (A1111 "Schedule type: Karras", ComfyUI scheduler "karras"). */
  readonly karras: boolean;
  /** A1111 sampler names; the first is the one we write. */
  readonly a1111: readonly string[];
  /** ComfyUI `sampler_name`, or null where ComfyUI has no such sampler. */
  readonly comfy: string | null;
  /** InvokeAI scheduler id (its Karras variant is `<id>_k`). */
  readonly invoke: string;
}

function freezeAll<T extends object>(items: T[]): readonly T[] {
  for (const item of items) {
    for (const v of Object.values(item)) if (Array.isArray(v)) Object.freeze(v);
    Object.freeze(item);
  }
  return Object.freeze(items);
}

/** The samplers the engine runs (main/engine/schedulers `SUPPORTED_SCHEDULERS`; a test keeps them equal). */
export const SCHEDULER_TABLE: readonly SchedulerEntry[] = freezeAll<SchedulerEntry>([
  { className: 'DDIMScheduler', karras: false, a1111: ['DDIM'], comfy: 'ddim', invoke: 'ddim' },
  { className: 'EulerDiscreteScheduler', karras: true, a1111: ['Euler'], comfy: 'euler', invoke: 'euler' },
  { className: 'EulerAncestralDiscreteScheduler', karras: true, a1111: ['Euler a'], comfy: 'euler_ancestral', invoke: 'euler_a' },
  { className: 'DPMSolverMultistepScheduler', karras: true, a1111: ['DPM++ 2M'], comfy: 'dpmpp_2m', invoke: 'dpmpp_2m' },
  { className: 'HeunDiscreteScheduler', karras: true, a1111: ['Heun'], comfy: 'heun', invoke: 'heun' },
  { className: 'LMSDiscreteScheduler', karras: true, a1111: ['LMS'], comfy: 'lms', invoke: 'lms' },
  // PLMS is PNDM with skip_prk_steps (diffusers' default config for SD).
  { className: 'PNDMScheduler', karras: false, a1111: ['PLMS', 'PNDM'], comfy: null, invoke: 'pndm' },
  { className: 'LCMScheduler', karras: false, a1111: ['LCM'], comfy: 'lcm', invoke: 'lcm' },
]);

/**
 * Samplers other tools write that the engine does not run. Known so that importing names them
 * ("DPM++ SDE — Atelier cannot run this sampler") and library provenance keeps them, never so
 * that a generation silently uses them.
 */
export const FOREIGN_SAMPLERS: readonly SchedulerEntry[] = freezeAll<SchedulerEntry>([
  { className: 'DPMSolverMultistepScheduler+sde', karras: true, a1111: ['DPM++ 2M SDE'], comfy: 'dpmpp_2m_sde', invoke: 'dpmpp_2m_sde' },
  { className: 'DPMSolverSinglestepScheduler', karras: true, a1111: ['DPM++ SDE'], comfy: 'dpmpp_sde', invoke: 'dpmpp_sde' },
  { className: 'KDPM2DiscreteScheduler', karras: true, a1111: ['DPM2'], comfy: 'dpm_2', invoke: 'kdpm_2' },
  { className: 'KDPM2AncestralDiscreteScheduler', karras: true, a1111: ['DPM2 a'], comfy: 'dpm_2_ancestral', invoke: 'kdpm_2_a' },
  { className: 'DDPMScheduler', karras: false, a1111: ['DDPM'], comfy: 'ddpm', invoke: 'ddpm' },
  { className: 'UniPCMultistepScheduler', karras: true, a1111: ['UniPC'], comfy: 'uni_pc', invoke: 'unipc' },
  { className: 'DEISMultistepScheduler', karras: true, a1111: ['DEIS'], comfy: 'deis', invoke: 'deis' },
  { className: 'TCDScheduler', karras: false, a1111: ['TCD'], comfy: null, invoke: 'tcd' },
]);

/** A1111 "Schedule type" labels we run: Automatic (the sampler's own schedule) and Karras. */
export const A1111_SCHEDULE_TYPES = Object.freeze({ automatic: 'Automatic', karras: 'Karras' } as const);
/** ComfyUI `scheduler` values we run: normal (the sampler's own schedule) and karras. */
export const COMFY_SCHEDULES = Object.freeze({ normal: 'normal', karras: 'karras' } as const);

/** Every A1111 schedule label (A1111 `sd_schedulers.py`), to strip legacy "Sampler Karras" suffixes and name what we can't run. */
const A1111_SCHEDULE_LABELS: readonly string[] = Object.freeze([
  'Automatic', 'Uniform', 'Karras', 'Exponential', 'Polyexponential', 'SGM Uniform', 'KL Optimal', 'Align Your Steps',
  'Simple', 'Normal', 'DDIM', 'Beta',
]);

/** Class names the engine runs, in table order. */
export const SUPPORTED_SCHEDULER_CLASSES: readonly string[] = Object.freeze(SCHEDULER_TABLE.map((e) => e.className));

const ALL = [...SCHEDULER_TABLE, ...FOREIGN_SAMPLERS];
const lower = (s: string) => s.trim().toLowerCase();
/** "DPM++ 2M" → "dpmpp2m", "Euler_a" → "eulera": how loosely typed names are matched. */
const squash = (s: string) => s.toLowerCase().replace(/\+\+/g, 'pp').replace(/[^a-z0-9]/g, '');

function index(key: (e: SchedulerEntry) => readonly (string | null)[]): ReadonlyMap<string, SchedulerEntry> {
  const m = new Map<string, SchedulerEntry>();
  for (const e of ALL) for (const k of key(e)) if (k && !m.has(lower(k))) m.set(lower(k), e);
  return m;
}

const BY_CLASS = index((e) => [e.className]);
const BY_A1111 = index((e) => e.a1111);
const BY_COMFY = index((e) => [e.comfy]);
const BY_INVOKE = index((e) => [e.invoke]);
/** Loose matching for hand-typed names ("euler_a", "dpmpp_2m", "EulerAncestral"). */
const BY_SQUASHED: ReadonlyMap<string, SchedulerEntry> = (() => {
  const m = new Map<string, SchedulerEntry>();
  const put = (k: string | null, e: SchedulerEntry) => k && !m.has(squash(k)) && m.set(squash(k), e);
  for (const e of ALL) {
    put(e.className, e);
    put(e.className.replace(/Scheduler(\+sde)?$/, '$1'), e);
    for (const n of e.a1111) put(n, e);
    put(e.comfy, e);
    put(e.invoke, e);
  }
  put('eulerancestral', BY_CLASS.get('eulerancestraldiscretescheduler')!);
  return m;
})();

export interface ResolvedScheduler {
  /** The table entry (runnable or foreign); undefined for names nobody knows. */
  entry?: SchedulerEntry;
  /** True when the engine runs it (with the Karras option if asked). */
  runnable: boolean;
  karras: boolean;
  /** Canonical string: class name (+karras), or the input unchanged when unknown. */
  name: string;
}

function resolved(entry: SchedulerEntry | undefined, karras: boolean, fallback: string): ResolvedScheduler {
  if (!entry) return { runnable: false, karras, name: fallback };
  const runnable = SCHEDULER_TABLE.includes(entry) && (!karras || entry.karras);
  return { entry, runnable, karras, name: karras ? `${entry.className}+karras` : entry.className };
}

/** Our scheduler string ("DPMSolverMultistepScheduler+karras", or a loose id like "euler_a") → entry. */
export function resolveScheduler(name: string): ResolvedScheduler {
  const trimmed = name.trim();
  const karras = /[+_\s-]?karras$/i.test(trimmed);
  const base = trimmed.replace(/[+_\s-]?karras$/i, '');
  const { className } = parseSchedulerName(base);
  const entry = BY_CLASS.get(lower(className)) ?? BY_SQUASHED.get(squash(className));
  return resolved(entry, karras, trimmed);
}

/** True when the engine can run this scheduler string as asked (class known, Karras only where supported). */
export function isRunnableScheduler(name: string): boolean {
  return resolveScheduler(name).runnable;
}

/** A1111's sampler + schedule type for our scheduler string; unknown names pass through as the sampler. */
export function schedulerToA1111(scheduler: string): { sampler: string; scheduleType?: string } {
  const r = resolveScheduler(scheduler);
  if (!r.entry) return { sampler: scheduler };
  return r.karras ? { sampler: r.entry.a1111[0], scheduleType: A1111_SCHEDULE_TYPES.karras } : { sampler: r.entry.a1111[0] };
}

export interface A1111Schedule {
  /** Our scheduler string, or the sampler name unchanged when it is unknown. */
  scheduler: string;
  /** Whether the engine runs it as asked. */
  runnable: boolean;
  /** Problems in words, e.g. `Schedule type "Exponential" — Atelier runs Automatic and Karras only`. */
  notes: string[];
}

/**
 * A1111 sampler (+ "Schedule type") → our scheduler string. Legacy names carry the schedule in the
 * sampler ("DPM++ 2M Karras"), as A1111 itself strips a trailing schedule label.
 */
export function fromA1111(sampler: string, scheduleType?: string): A1111Schedule {
  const notes: string[] = [];
  let name = sampler.trim();
  let schedule = scheduleType?.trim() || '';
  for (const label of A1111_SCHEDULE_LABELS) {
    const suffix = ` ${label.toLowerCase()}`;
    if (name.toLowerCase().endsWith(suffix) && BY_A1111.has(lower(name.slice(0, -suffix.length)))) {
      schedule ||= label;
      name = name.slice(0, -suffix.length);
      break;
    }
  }
  const entry = BY_A1111.get(lower(name)) ?? BY_SQUASHED.get(squash(name));
  const karras = lower(schedule) === 'karras';
  if (schedule && !karras && lower(schedule) !== 'automatic') {
    notes.push(`Schedule type “${schedule}” — Atelier runs the Automatic and Karras schedules only; used Automatic`);
  }
  if (!entry) {
    notes.push(`Sampler “${sampler.trim()}” — not a sampler Atelier knows`);
    return { scheduler: sampler.trim(), runnable: false, notes };
  }
  const r = resolved(entry, karras, name);
  if (!SCHEDULER_TABLE.includes(entry)) notes.push(`Sampler “${entry.a1111[0]}” — Atelier's engine cannot run this sampler`);
  else if (karras && !entry.karras) {
    notes.push(`Schedule type “Karras” — ${entry.a1111[0]} has no Karras schedule; used Automatic`);
    return { scheduler: entry.className, runnable: true, notes };
  }
  return { scheduler: r.name, runnable: r.runnable, notes };
}

/** A1111 sampler (+ schedule type) → our scheduler string, or the input unchanged when unknown. */
export function a1111ToScheduler(sampler: string, scheduleType?: string): string {
  return fromA1111(sampler, scheduleType).scheduler;
}

/** ComfyUI KSampler `sampler_name` + `scheduler` → our scheduler string (unknown: the sampler name). */
export function fromComfy(samplerName: string, schedule?: string): A1111Schedule {
  const entry = BY_COMFY.get(lower(samplerName));
  if (!entry) return { scheduler: samplerName, runnable: false, notes: [`Sampler “${samplerName}” — not a sampler Atelier knows`] };
  const a = fromA1111(entry.a1111[0], lower(schedule ?? '') === COMFY_SCHEDULES.karras ? A1111_SCHEDULE_TYPES.karras : undefined);
  if (schedule && ![COMFY_SCHEDULES.normal, COMFY_SCHEDULES.karras].includes(lower(schedule) as 'normal')) {
    a.notes.push(`Scheduler “${schedule}” — Atelier runs the normal and karras schedules only; used normal`);
  }
  return a;
}

/** InvokeAI scheduler id (euler, euler_a, dpmpp_2m_k …) → our scheduler string (unknown: the id). */
export function fromInvoke(id: string): A1111Schedule {
  const karras = /_k$/.test(id);
  const entry = BY_INVOKE.get(lower(id.replace(/_k$/, '')));
  if (!entry) return { scheduler: id, runnable: false, notes: [`Scheduler “${id}” — not a sampler Atelier knows`] };
  return fromA1111(entry.a1111[0], karras ? A1111_SCHEDULE_TYPES.karras : undefined);
}

/** ComfyUI names for our scheduler string, or null when ComfyUI has no such sampler. */
export function schedulerToComfy(scheduler: string): { sampler_name: string; scheduler: string } | null {
  const r = resolveScheduler(scheduler);
  if (!r.entry?.comfy) return null;
  return { sampler_name: r.entry.comfy, scheduler: r.karras ? COMFY_SCHEDULES.karras : COMFY_SCHEDULES.normal };
}

/** What people call it: "DPM++ 2M Karras", "Euler a"; unknown names without a "Scheduler" suffix. */
export function schedulerLabel(scheduler: string): string {
  const r = resolveScheduler(scheduler);
  if (!r.entry) return scheduler.replace(/Scheduler$/, '');
  return r.karras ? `${r.entry.a1111[0]} ${A1111_SCHEDULE_TYPES.karras}` : r.entry.a1111[0];
}

/** Every runnable choice, Karras variants included, as our scheduler strings (for pickers). */
export const RUNNABLE_SCHEDULER_CHOICES: readonly string[] = Object.freeze(
  SCHEDULER_TABLE.flatMap((e) => (e.karras ? [e.className, formatSchedulerName(e.className, { use_karras_sigmas: true })] : [e.className])),
);
