/**
 * What a dropped image's parameters do to the workspace: which values are taken over, and — in
 * words — which are not and why (a sampler the engine cannot run, a clip skip the model's text
 * encoder cannot reach, a size the model refuses, a model that is not installed…). A value the
 * target model would reject is never put into the form; it is listed instead.
 */
import type { ModelSummary } from '../../common/api/contract';
import { GENERATE_BOUNDS as B, boundsProblem } from '../../common/params/bounds';
import { fromA1111, resolveScheduler, schedulerLabel } from '../../common/schedulers';
import type { WorkspaceParams } from '../state/types';

export interface ImportedMetadata {
  source?: string;
  prompt?: string;
  negativePrompt?: string;
  params: Record<string, string | number>;
  warnings?: string[];
}

export interface ImportContext {
  models: readonly ModelSummary[];
  /** The workspace's parameters now (what stays when a value is not taken over). */
  current: WorkspaceParams;
}

export interface ImportPlan {
  /** Goes into the workspace form. */
  patch: Partial<WorkspaceParams>;
  /** What was taken over, for display: label → value in words. */
  applied: { label: string; value: string }[];
  /** One sentence per value that was not taken over (or needs a look), e.g. "Clip skip 2 — …". */
  notApplied: string[];
}


/** Metadata keys lower-cased without spaces, dashes or underscores ("CFG scale" → "cfgscale"). */
function normalised(params: Record<string, string | number>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k.toLowerCase().replace(/[\s_-]/g, ''), v]));
}

function numberOf(p: Record<string, string | number>, ...keys: string[]): number | undefined {
  for (const k of keys) {
    if (p[k] === undefined || String(p[k]).trim() === '') continue;
    const v = Number(p[k]);
    if (Number.isFinite(v)) return v;
  }
  return undefined;
}

/** The scheduler the metadata names, as our scheduler string, and whether the engine runs it. */
export function importedScheduler(p: Record<string, string | number>): { scheduler: string; runnable: boolean; notes: string[] } | null {
  const sampler = String(p.sampler ?? p.scheduler ?? '').trim();
  if (!sampler) return null;
  const schedule = String(p.scheduletype ?? '').trim() || undefined;
  // Our own names (the server already maps A1111/ComfyUI/InvokeAI names to them)…
  const ours = resolveScheduler(sampler);
  if (ours.entry && !schedule) {
    const notes = ours.runnable ? [] : [`Sampler “${schedulerLabel(ours.name)}” — Atelier's engine cannot run this sampler`];
    return { scheduler: ours.name, runnable: ours.runnable, notes };
  }
  // …or A1111's, as the text says them ("Euler a", "DPM++ 2M" + "Karras", "DPM++ 2M Karras").
  const a = fromA1111(sampler, schedule);
  return { scheduler: a.scheduler, runnable: a.runnable, notes: a.notes };
}

/** The model a file names, among the installed ones (by id, then by name). */
function findModel(models: readonly ModelSummary[], name: string): ModelSummary | undefined {
  const n = name.trim().toLowerCase();
  return models.find((m) => m.id.toLowerCase() === n) ?? models.find((m) => m.name.toLowerCase() === n);
}

export function planImport(meta: ImportedMetadata, ctx: ImportContext): ImportPlan {
  const patch: Partial<WorkspaceParams> = {};
  const applied: ImportPlan['applied'] = [];
  const notApplied: string[] = [];
  const p = normalised(meta.params);
  const take = <K extends keyof WorkspaceParams>(key: K, value: WorkspaceParams[K], label: string, shown = String(value)) => {
    patch[key] = value;
    applied.push({ label, value: shown });
  };

  if (meta.prompt !== undefined) patch.prompt = meta.prompt;
  if (meta.negativePrompt !== undefined) patch.negativePrompt = meta.negativePrompt;

  // The model first: every other check is against the model the next Generate will use.
  let model = ctx.models.find((m) => m.id === ctx.current.modelId);
  const named = String(p.modelid ?? p.model ?? '').trim();
  if (named) {
    const found = findModel(ctx.models, named);
    if (found) {
      model = found;
      if (found.id !== ctx.current.modelId) take('modelId', found.id, 'Model', found.name);
    } else {
      notApplied.push(`Model “${named}” — not installed here; the image will be made with ${model?.name ?? 'the current model'}`);
    }
  }
  const modelName = model?.name ?? 'this model';

  // Checked against the API's own bounds (common/params/bounds.ts), so the form never holds what Generate refuses.
  const steps = numberOf(p, 'steps');
  if (steps !== undefined) {
    const problem = boundsProblem(steps, B.steps);
    if (problem) notApplied.push(`Steps ${steps} — ${problem}`);
    else take('steps', steps, 'Steps');
  }
  const cfg = numberOf(p, 'cfgscale', 'guidancescale', 'cfg');
  if (cfg !== undefined) {
    const problem = boundsProblem(cfg, B.guidanceScale);
    if (problem) notApplied.push(`CFG scale ${cfg} — ${problem}`);
    else take('guidanceScale', cfg, 'CFG');
  }
  const seed = numberOf(p, 'seed');
  if (seed !== undefined && seed !== -1) {
    const problem = boundsProblem(seed, { ...B.seed, min: 0 });
    if (problem) notApplied.push(`Seed ${seed} — ${problem}`);
    else {
      take('seed', seed, 'Seed');
      patch.seedLocked = true;
    }
  }

  let width = numberOf(p, 'width', 'size1');
  let height = numberOf(p, 'height', 'size2');
  const size = /^(\d+)\s*x\s*(\d+)$/i.exec(String(p.size ?? ''));
  if (size) [width, height] = [Number(size[1]), Number(size[2])];
  if (width !== undefined && height !== undefined) {
    const m = Math.max(B.width.multipleOf, model?.sizeMultiple ?? B.width.multipleOf);
    const problem = boundsProblem(width, B.width, m) ?? boundsProblem(height, B.height, m);
    if (!problem) {
      patch.width = width;
      patch.height = height;
      applied.push({ label: 'Size', value: `${width}×${height}` });
    } else {
      const who = m > B.width.multipleOf && problem.startsWith('must be a multiple') ? `${modelName}: width and height ${problem}` : `width and height ${problem}`;
      notApplied.push(`Size ${width}×${height} — ${who}; kept ${ctx.current.width}×${ctx.current.height}`);
    }
  }

  const sched = importedScheduler(p);
  if (sched) {
    if (sched.runnable) take('scheduler', sched.scheduler, 'Sampler', schedulerLabel(sched.scheduler));
    else notApplied.push(...sched.notes.map((n) => `${n}; kept ${schedulerLabel(ctx.current.scheduler)}`));
    if (sched.runnable) notApplied.push(...sched.notes);
  }

  const clipSkip = numberOf(p, 'clipskip');
  if (clipSkip !== undefined) {
    const max = model?.clipSkipMax;
    const problem = boundsProblem(clipSkip, B.clipSkip);
    if (problem) notApplied.push(`Clip skip ${clipSkip} — ${problem}`);
    else if (max !== undefined && clipSkip > max) {
      notApplied.push(
        max === 1
          ? `Clip skip ${clipSkip} — ${modelName} has only 1 text-encoder layer option (its text encoder exports no earlier layers); kept 1`
          : `Clip skip ${clipSkip} — ${modelName} goes up to clip skip ${max}; kept ${Math.min(ctx.current.clipSkip, max)}`,
      );
      if (ctx.current.clipSkip > max) patch.clipSkip = 1;
    } else {
      take('clipSkip', clipSkip, 'Clip skip');
      if (max === undefined && clipSkip > 1) notApplied.push(`Clip skip ${clipSkip} — taken over, but it is not known whether ${modelName} can run it`);
    }
  } else if (meta.source === 'a1111' && ctx.current.clipSkip !== 1) {
    // A1111 leaves its default out of the text: no "Clip skip" means 1.
    take('clipSkip', 1, 'Clip skip');
  }

  const rng = String(p.rng ?? '').trim().toLowerCase();
  if (rng === 'cpu' || rng === 'cuda' || rng === 'gpu' || rng === 'nv') take('rng', rng === 'cpu' ? 'cpu' : 'cuda', 'RNG', rng === 'cpu' ? 'CPU' : 'GPU');
  else if (rng) notApplied.push(`RNG “${String(p.rng)}” — Atelier has CPU and GPU noise only`);

  const strength = numberOf(p, 'strength', 'denoisingstrength');
  if (strength !== undefined) {
    notApplied.push(`Denoising strength ${strength} — the image was made from an init image the file does not carry; this generates from text`);
  }

  // The server's reader says what it could not map; skip what is already said above ("Sampler “UniPC” — …").
  for (const w of meta.warnings ?? []) {
    const subject = w.split(' — ')[0]!;
    if (!notApplied.some((n) => n === w || n.startsWith(`${subject} — `))) notApplied.push(w);
  }
  return { patch, applied, notApplied };
}
