/**
 * Executors: where planned diffusions run when not on this process's engine host (the render farm,
 * main/farm/), and how a batch is spread over one.
 *
 * A batch on an executor that can spread work (the render farm): each image becomes its own task —
 * `batchMember` { index, of } makes image k with exactly the noise it has in the whole batch
 * (main/engine/pipeline/batch-member.ts) — so a 12-image batch runs on every free worker at once and
 * still lands byte-identical to a one-machine run. Results are put back in batch order; progress is
 * the sum of the parts' steps. One part failing fails the job (as a local batch would) and stops the
 * other parts.
 */
import type { LoadedModelInfo } from '../../common/api/contract';
import type { EngineLoraLoad, GenerateOutcome, LoadedLora, PipelineRequest } from '../engine-host';

/** What an executor reports back while a task runs. */
export interface ExecutorHooks {
  isCancelled?(): boolean;
  /** Denoising steps, then (with upscale) tiles. */
  onProgress?(step: number, total: number, elapsedMs: number, phase: 'denoise' | 'upscale'): void;
  onPreview?(p: { step: number; width: number; height: number; rgb: Uint8Array }): void;
}

/** A job as an executor sees it: which one, its project (fairness) and whether a person waits on it. */
export interface ExecutorJob {
  id: string;
  projectId?: string;
  /** Studio jobs are interactive; compatibility-API jobs (params.source) are not. */
  interactive: boolean;
}

/** One planned diffusion, ready to run anywhere that holds the model with this content hash. */
export interface ExecutorTask {
  job: ExecutorJob;
  model: { id: string; name: string; hash: string };
  pipeline: PipelineRequest;
  provider?: string;
  lowMemory: boolean;
  /** A live preview every N steps (0 or absent: none). */
  previewEvery?: number;
  /** `<lora:…>` files to merge at load, as this machine resolved them (the executor finds them by content). */
  loras?: EngineLoraLoad;
  /** The ControlNet graphs of `pipeline`'s units, in order, by content (the executor runs its own copies). */
  controlNets?: Array<{ name: string; hash: string }>;
}

/** What came back: the engine's outcome plus what the record needs from the engine that loaded the model. */
export interface ExecutorResult {
  outcome: GenerateOutcome;
  family: string;
  fallbacks: LoadedModelInfo['fallbacks'];
  /** The LoRAs the remote engine merged (for `Lora hashes`). */
  loras?: LoadedLora[];
}

/** Handed out in queue order when a job starts; settled once its images are saved (or it failed). */
export interface ExecutorTicket {
  settle(): void;
}

/**
 * Runs planned diffusions somewhere other than this process's engine host (the render farm,
 * main/farm/). Everything else — model resolution, inputs, planning, upscaling and saving through
 * the job's target — stays here, so provenance, C2PA and infotext are the same as local generation.
 */
export interface GenerationExecutor {
  /** How many jobs the queue may run at once through it. */
  readonly concurrency: number;
  /**
   * How many machines could run a task of this model side by side right now (the farm: live workers
   * holding it). A batch is split into that many runs of consecutive images (executeTask below);
   * absent: batches run whole.
   */
  parallelism?(modelHash: string): number;
  /** Called synchronously, in queue order, when a job starts: results can be handed back in that order. */
  admit(job: ExecutorJob): ExecutorTicket;
  execute(ticket: ExecutorTicket, task: ExecutorTask, hooks: ExecutorHooks): Promise<ExecutorResult>;
  cancel(jobId: string): void;
}

/** Timings of parts that ran side by side: the longest of each stage (what the person waited for). */
function longestTimings(parts: GenerateOutcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.timings)) out[k] = Math.max(out[k] ?? -Infinity, v);
  return out;
}

/** The task for images index … index + count − 1 of the batch of `of` (the whole batch's noise slice). */
export function batchPart(task: ExecutorTask, index: number, count: number, of: number): ExecutorTask {
  const pipeline = { ...task.pipeline, params: { ...task.pipeline.params, batchSize: count, batchMember: { index, of, count } } } as ExecutorTask['pipeline'];
  return { ...task, pipeline };
}

/**
 * `of` images in `parts` runs of consecutive images, as even as possible (12 in 5 → 3, 3, 2, 2, 2):
 * a run is still one batched UNet call per step, which a GPU (and a CPU) does faster than its images
 * one by one, so a batch is split only as far as there are machines to run it.
 */
export function batchRuns(of: number, parts: number): Array<{ index: number; count: number }> {
  const n = Math.max(1, Math.min(of, Number.isFinite(parts) ? Math.floor(parts) : 1));
  const runs: Array<{ index: number; count: number }> = [];
  for (let k = 0, index = 0; k < n; k++) {
    const count = Math.floor(of / n) + (k < of % n ? 1 : 0);
    runs.push({ index, count });
    index += count;
  }
  return runs;
}

/** Runs `task` on the executor: a batch split over the machines that could run it, else as one task. */
export async function executeTask(executor: GenerationExecutor, ticket: ExecutorTicket, task: ExecutorTask, hooks: ExecutorHooks): Promise<ExecutorResult> {
  const of = task.pipeline.params.batchSize ?? 1;
  const runs = batchRuns(of, executor.parallelism?.(task.model.hash) ?? 1);
  if (runs.length <= 1) return executor.execute(ticket, task, hooks);
  const steps = new Array<number>(runs.length).fill(0);
  const totals = new Array<number>(runs.length).fill(0);
  const partHooks = (k: number): ExecutorHooks => ({
    isCancelled: hooks.isCancelled,
    onPreview: hooks.onPreview,
    onProgress: (step, total, elapsedMs, phase) => {
      steps[k] = step;
      totals[k] = total;
      // Parts not started yet count their steps as the started ones report them.
      const each = Math.max(...totals);
      hooks.onProgress?.(steps.reduce((a, b) => a + b, 0), each * runs.length, elapsedMs, phase);
    },
  });
  const running = runs.map((r, k) => executor.execute(ticket, batchPart(task, r.index, r.count, of), partHooks(k)));
  let results: ExecutorResult[];
  try {
    results = await Promise.all(running);
  } catch (err) {
    // Stop the parts still queued or running, and let none of them reject unobserved.
    executor.cancel(task.job.id);
    await Promise.allSettled(running);
    throw err;
  }
  const first = results[0];
  const outcome: GenerateOutcome = {
    ...first.outcome,
    images: results.flatMap((r) => r.outcome.images),
    timings: longestTimings(results.map((r) => r.outcome)),
    truncatedPrompt: results.some((r) => r.outcome.truncatedPrompt),
  };
  return { ...first, outcome };
}
