/**
 * A batch on an executor that can spread work (the render farm): each image becomes its own task —
 * `batchMember` { index, of } makes image k with exactly the noise it has in the whole batch
 * (main/engine/pipeline/batch-member.ts) — so a 12-image batch runs on every free worker at once and
 * still lands byte-identical to a one-machine run. Results are put back in batch order; progress is
 * the sum of the parts' steps. One part failing fails the job (as a local batch would) and stops the
 * other parts.
 */
import type { GenerateOutcome } from '../engine-host';
import type { ExecutorResult, ExecutorTask, ExecutorTicket, GenerationExecutor, RunHooks } from './generation-service';

type PartHooks = Pick<RunHooks, 'isCancelled' | 'onProgress' | 'onPreview'>;

/** Timings of parts that ran side by side: the longest of each stage (what the person waited for). */
function longestTimings(parts: GenerateOutcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.timings)) out[k] = Math.max(out[k] ?? -Infinity, v);
  return out;
}

/** The task for image `index` of the batch (batch size 1, the whole batch's noise slice). */
export function batchPart(task: ExecutorTask, index: number, of: number): ExecutorTask {
  const pipeline = { ...task.pipeline, params: { ...task.pipeline.params, batchSize: 1, batchMember: { index, of } } } as ExecutorTask['pipeline'];
  return { ...task, pipeline };
}

/** Runs `task` on the executor: split per image when it spreads batches, else as one task. */
export async function executeTask(executor: GenerationExecutor, ticket: ExecutorTicket, task: ExecutorTask, hooks: PartHooks): Promise<ExecutorResult> {
  const of = task.pipeline.params.batchSize ?? 1;
  if (!executor.splitsBatches || of <= 1) return executor.execute(ticket, task, hooks);
  const steps = new Array<number>(of).fill(0);
  const totals = new Array<number>(of).fill(0);
  const partHooks = (k: number): PartHooks => ({
    isCancelled: hooks.isCancelled,
    onPreview: hooks.onPreview,
    onProgress: (step, total, elapsedMs, phase) => {
      steps[k] = step;
      totals[k] = total;
      // Parts not started yet count their steps as the started ones report them.
      const each = Math.max(...totals);
      hooks.onProgress?.(steps.reduce((a, b) => a + b, 0), each * of, elapsedMs, phase);
    },
  });
  const runs = Array.from({ length: of }, (_, k) => executor.execute(ticket, batchPart(task, k, of), partHooks(k)));
  let results: ExecutorResult[];
  try {
    results = await Promise.all(runs);
  } catch (err) {
    // Stop the parts still queued or running, and let none of them reject unobserved.
    executor.cancel(task.job.id);
    await Promise.allSettled(runs);
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
