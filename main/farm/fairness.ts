/**
 * Per-project fairness and interactive-first scheduling expressed as BullMQ priorities, so the
 * order lives in Redis (workers just take the next job) and survives coordinator restarts.
 *
 * Start-time fair queuing: each project's k-th waiting task gets the tag max(V, its previous tag) + 1,
 * where V is the tag of the task that started most recently. A project that queues 200 images takes
 * tags 1..200; one image queued later by another project gets V + 1 and runs next, not 200th.
 * Interactive (studio) tasks use the lower band, API and batch tasks the upper one; BullMQ runs lower
 * priorities first and keeps FIFO order within one priority.
 */

/** BullMQ's largest priority is 2^21 - 1; each band gets half. */
const BAND = 1 << 20;

export class FairPriorities {
  /** Per band: the tag of the most recently started task. */
  private readonly virtualTime = [0, 0];
  /** Per band and project: the last tag handed out. */
  private readonly lastTag = [new Map<string, number>(), new Map<string, number>()];
  /** Outstanding tags per band, so the clocks can restart from 0 when a band drains. */
  private readonly outstanding = [0, 0];

  /** The BullMQ priority of a new task. */
  next(projectId: string | undefined, interactive: boolean): number {
    const band = interactive ? 0 : 1;
    const key = projectId ?? '';
    const tag = Math.max(this.virtualTime[band], this.lastTag[band].get(key) ?? 0) + 1;
    this.lastTag[band].set(key, tag);
    this.outstanding[band]++;
    // Beyond a million waiting tasks in one band the order degrades to FIFO, never to an invalid priority.
    return band * BAND + Math.min(tag, BAND - 1);
  }

  /** A task with this priority started on a worker: the clock of its band moves on. */
  started(priority: number): void {
    const band = priority >= BAND ? 1 : 0;
    this.virtualTime[band] = Math.max(this.virtualTime[band], priority - band * BAND);
  }

  /** A task left the queue for good (done, failed, cancelled). */
  settled(priority: number): void {
    const band = priority >= BAND ? 1 : 0;
    this.outstanding[band] = Math.max(0, this.outstanding[band] - 1);
    if (this.outstanding[band] === 0) {
      this.virtualTime[band] = 0;
      this.lastTag[band].clear();
    }
  }
}
