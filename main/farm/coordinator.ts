/**
 * `atelier serve --farm`: the studio's generation service hands every planned diffusion to this
 * executor, which puts it into BullMQ (one job per task, in the queue of its model's content hash,
 * with a fair priority), waits for a worker's result and hands the pixels back — in the order the
 * jobs started, per project — so the service saves them into the job's own project exactly as a
 * local generation would (same record, C2PA, infotext). Workers never touch a library.
 *
 * Robustness: BullMQ events are the fast path; a reconcile tick reads the state of every job still
 * outstanding from Redis, so a result that finished while the coordinator's event stream was
 * reconnecting (Redis restarted) is still picked up. A job for a model no live worker announces fails
 * with "no worker has model X" after `noWorkerTimeoutMs`; one every live holder of its model has left
 * for lack of memory (worker.ts) fails as long after with "no worker has enough memory for X".
 *
 * Large results: workers upload them to this server (result-store.ts, authenticated by the farm
 * token this coordinator publishes in Redis with its URL) and return a FarmResultRef; the result is
 * read from that file and saved exactly like one that came through Redis.
 */
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { AtelierApiError, type AtelierEvent } from '../../common/api/contract';
import type { FarmStatusSource } from '../app/farm-api';
import type { ExecutorJob, ExecutorResult, ExecutorTask, ExecutorTicket, GenerationExecutor, RunHooks } from '../app/generation-service';
import { CancelledError } from '../engine';
import type { EngineLoraLoad } from '../engine-host';
import { LoraStore } from '../models/lora-store';
import { FairPriorities } from './fairness';
import { CANCEL_CHANNEL, COORDINATOR_KEY, decodeOutcome, encodePipeline, FARM_PREFIX, isResultRef, queueNameFor, refusedKey, type FarmCoordinatorEndpoint, type FarmLoraRef, type FarmProgress, type FarmRefusal, type FarmTaskData, type FarmTaskResult, type FarmWorkerInfo } from './protocol';
import { bullConnection, checkReachable, type FarmRedis } from './redis-url';
import { FarmResultStore, resolveFarmToken } from './result-store';
import { readWorkers } from './worker-registry';

export interface CoordinatorOptions {
  farm: FarmRedis;
  /** How long a job waits while no live worker holds its model, before it fails (default 60 s, $ATELIER_FARM_NO_WORKER_MS). */
  noWorkerTimeoutMs?: number;
  /** Jobs the studio queue hands to the farm at once (the rest wait in the studio queue). */
  concurrency?: number;
  /** Tries per task when a worker reports an error (a killed worker is BullMQ's stalled handling, not a try). */
  attempts?: number;
  /** How often workers are re-read and outstanding jobs reconciled (default 500 ms). */
  tickMs?: number;
  /** Where uploaded results are kept until saved (the data folder's farm-results); none: no uploads. */
  resultsDir?: string;
  /** The farm token workers upload with (`--farm-token`); default: a random one, published in Redis. */
  farmToken?: string;
  log?: (msg: string) => void;
}

interface Outstanding {
  task: ExecutorTask;
  /** The BullMQ job id: the studio job's id, or that of an earlier coordinator's job it adopted. */
  bullId: string;
  queue: string;
  priority: number;
  hooks: Pick<RunHooks, 'isCancelled' | 'onProgress' | 'onPreview'>;
  /** When the job was first seen waiting with no live worker for its model (null: one exists). */
  orphanSince: number | null;
  worker: string | null;
  started: boolean;
  resolve(result: { result: FarmTaskResult; uploadId?: string }): void;
  reject(err: Error): void;
}

interface Ticket extends ExecutorTicket {
  /** Resolves when every job admitted earlier for the same project has settled. */
  turn: Promise<void>;
  /** One per completed result read (a split batch has several): removes it from Redis when the ticket settles (after the save). */
  releases: Array<() => void>;
}

const DEFAULT_NO_WORKER_MS = 60_000;
/**
 * Completed jobs stay in Redis until the coordinator has saved their images (the ticket's settle
 * removes them), a day at most: a coordinator killed between reading a result and saving it finds
 * the result again on restart instead of running the task a second time. Failed ones are removed
 * once read (finish()).
 */
const KEEP_UNTIL_READ = { removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } };
/** Task content → BullMQ job id, so a coordinator that crashed and retries its jobs finds their results. */
const taskIndexKey = (key: string) => `${FARM_PREFIX}:task:${key}`;
const ADOPTABLE = new Set(['completed', 'active', 'waiting', 'prioritized', 'delayed', 'waiting-children']);
/** BullMQ states of a job no worker has: waiting to be taken, or given back for a moment (worker.ts leave()). */
const WAITING = new Set(['waiting', 'prioritized', 'delayed']);

/** Waits for `closing` at most `ms` (a close that hangs on a dead connection is left behind). */
export async function closeWithin(ms: number, closing: Promise<unknown>[]): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([Promise.allSettled(closing), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** The LoRA files this machine resolved, by content: workers find their own copies by hash. */
async function loraRefs(load: EngineLoraLoad): Promise<FarmLoraRef[]> {
  const refs: FarmLoraRef[] = [];
  for (const spec of load.specs) {
    // resolvePromptLoras gives <modelsDir>/loras/<name>.safetensors: its store knows the hash.
    const { loras } = await new LoraStore(dirname(dirname(spec.path))).list();
    const entry = loras.find((l) => l.file === spec.path);
    if (!entry) throw new AtelierApiError('not_found', `LoRA file ${spec.path} could not be read for the render farm`);
    refs.push({ name: entry.name, hash: entry.hash, weight: spec.weight, ...(spec.unetWeight !== undefined ? { unetWeight: spec.unetWeight } : {}) });
  }
  return refs;
}

/** An error a worker reported, re-created with its name so the API maps it as it would locally. */
function workerError(reason: string): Error {
  const m = /^([A-Za-z]+Error): ([\s\S]*)$/.exec(reason);
  const err = new Error(m ? m[2] : reason);
  if (m) err.name = m[1];
  return err;
}

/** The BullMQ id of a task: the studio job's id, with the first image's index when a batch was split. */
function bullIdOf(task: ExecutorTask): string {
  const member = task.pipeline.params.batchMember;
  return member ? `${task.job.id}.${member.index}` : task.job.id;
}

export class FarmCoordinator implements GenerationExecutor, FarmStatusSource {
  readonly concurrency: number;

  readonly display: string;
  /** The studio's event bus (attachEvents): worker list changes and which worker took a job. */
  private emit: (event: AtelierEvent) => void = () => undefined;
  private readonly queues = new Map<string, { queue: Queue; events: QueueEvents }>();
  private readonly outstanding = new Map<string, Outstanding>();
  private readonly tails = new Map<string, Promise<void>>();
  private readonly fair = new FairPriorities();
  private workers: FarmWorkerInfo[] = [];
  private workersKey = '';
  private timer: ReturnType<typeof setInterval> | null = null;
  private ticking = false;
  private closed = false;
  private readonly noWorkerTimeoutMs: number;
  private readonly log: (msg: string) => void;
  /** Large results uploaded by workers (null without a resultsDir). */
  readonly results: FarmResultStore | null;
  private readonly token: string;
  private endpoint: FarmCoordinatorEndpoint | null = null;
  /** Uploads being read, so the event and the tick do not read the same file twice. */
  private readonly reading = new Set<string>();

  private constructor(
    private readonly opts: CoordinatorOptions,
    private readonly redis: Redis,
  ) {
    this.concurrency = opts.concurrency ?? 256;
    this.display = opts.farm.display;
    const env = Number(process.env.ATELIER_FARM_NO_WORKER_MS);
    this.noWorkerTimeoutMs = opts.noWorkerTimeoutMs ?? (Number.isFinite(env) && env > 0 ? env : DEFAULT_NO_WORKER_MS);
    this.log = opts.log ?? ((m) => console.error(m));
    this.token = resolveFarmToken(opts.farmToken);
    this.results = opts.resultsDir ? new FarmResultStore(opts.resultsDir, this.token) : null;
  }

  /** Checks Redis (bounded attempts, clear error), then starts watching workers and jobs. */
  static async connect(opts: CoordinatorOptions): Promise<FarmCoordinator> {
    await checkReachable(opts.farm);
    const redis = new Redis({ ...opts.farm.options, connectionName: 'atelier-coordinator' });
    redis.on('error', () => undefined); // ioredis reconnects by itself; jobs wait meanwhile
    const coordinator = new FarmCoordinator(opts, redis);
    // A Redis restarted without its data forgot where uploads go: say it again on every reconnect.
    redis.on('ready', () => void coordinator.republish());
    coordinator.timer = setInterval(() => void coordinator.tick(), opts.tickMs ?? 500);
    coordinator.timer.unref(); // never what keeps the process alive
    await coordinator.tick();
    return coordinator;
  }

  /**
   * Tells workers where to upload large results: this server's URL as they reach it, and the farm
   * token. Called once the HTTP server listens (main/cli/serve.ts).
   */
  async publishEndpoint(url: string): Promise<void> {
    if (!this.results) throw new Error('this coordinator takes no uploads (no resultsDir)');
    this.endpoint = { url, token: this.token };
    await this.republish();
  }

  private async republish(): Promise<void> {
    if (this.endpoint && !this.closed) await this.redis.set(COORDINATOR_KEY, JSON.stringify(this.endpoint)).catch(() => undefined);
  }

  /** A batch is split into one BullMQ job per live worker holding its model (executor.ts executeTask). */
  parallelism(modelHash: string): number {
    return Math.max(1, this.workers.filter((w) => w.models.some((m) => m.hash === modelHash)).length);
  }

  /** Live workers as last read from Redis. */
  listWorkers(): FarmWorkerInfo[] {
    return this.workers;
  }

  attachEvents(emit: (event: AtelierEvent) => void): void {
    this.emit = emit;
  }

  admit(job: ExecutorJob): Ticket {
    const key = job.projectId ?? '';
    const previous = this.tails.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = Promise.all([previous, mine]).then(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    const ticket: Ticket = {
      turn: previous,
      releases: [],
      settle: () => {
        for (const release of ticket.releases.splice(0)) release();
        done();
      },
    };
    return ticket;
  }

  async execute(ticket: ExecutorTicket, task: ExecutorTask, hooks: Pick<RunHooks, 'isCancelled' | 'onProgress' | 'onPreview'>): Promise<ExecutorResult> {
    if (this.closed) throw new AtelierApiError('busy', 'The render farm coordinator is shutting down');
    const name = queueNameFor(task.model.hash);
    const { queue } = this.queueFor(name);
    const priority = this.fair.next(task.job.projectId, task.job.interactive);
    const data: FarmTaskData = {
      v: 1,
      jobId: task.job.id,
      ...(task.job.projectId ? { projectId: task.job.projectId } : {}),
      interactive: task.job.interactive,
      model: task.model,
      pipeline: encodePipeline(task.pipeline),
      ...(task.provider ? { provider: task.provider } : {}),
      lowMemory: task.lowMemory,
      ...(task.previewEvery ? { previewEvery: task.previewEvery } : {}),
      ...(task.loras?.specs.length ? { loras: await loraRefs(task.loras) } : {}),
      ...(task.controlNets?.length ? { controlNets: task.controlNets } : {}),
    };
    // The same task (model, pipeline with its seed, provider) queued by a coordinator that crashed:
    // adopt its BullMQ job — finished, running or waiting — instead of running it again.
    const extras = JSON.stringify([data.loras ?? null, data.controlNets ?? null]);
    const taskKey = createHash('sha256').update(`${task.model.hash}\0${task.provider ?? ''}\0${data.pipeline}\0${extras}`).digest('hex');
    const prior = await this.redis.get(taskIndexKey(taskKey)).catch(() => null);
    const adopt = prior && !this.outstanding.has(prior) && ADOPTABLE.has(await queue.getJobState(prior).catch(() => 'unknown')) ? prior : null;
    // Otherwise the studio's job id (per image of a split batch) is the BullMQ id: a retried attempt is the same job with the same seed.
    const bullId = adopt ?? bullIdOf(task);
    const done = new Promise<{ result: FarmTaskResult; uploadId?: string }>((resolve, reject) => {
      this.outstanding.set(bullId, { task, bullId, queue: name, priority, hooks, orphanSince: null, worker: null, started: false, resolve, reject });
    });
    try {
      if (adopt) this.log(`render farm: job ${task.job.id} adopts ${adopt}, queued before a restart`);
      else {
        await queue.add('generate', data, { jobId: bullId, priority, attempts: this.opts.attempts ?? 2, backoff: { type: 'fixed', delay: 250 }, ...KEEP_UNTIL_READ });
        await this.redis.set(taskIndexKey(taskKey), bullId, 'EX', 24 * 3600).catch(() => undefined);
      }
      void this.reconcileOne(bullId);
      const { result, uploadId } = await done;
      // Saved by the generation service before it settles the ticket: only then may Redis (and the
      // upload folder) forget it.
      (ticket as Ticket).releases.push(() => {
        void queue.remove(bullId).catch(() => undefined);
        if (uploadId) this.results?.remove(uploadId);
      });
      const decoded = decodeOutcome(result);
      // Hand results back in the order the jobs started, per project (a batch lands in order).
      await (ticket as Ticket).turn;
      return decoded;
    } finally {
      this.outstanding.delete(bullId);
      this.fair.settled(priority);
    }
  }

  /** Cancels every task of the studio job (all images of a split batch). */
  cancel(jobId: string): void {
    for (const o of [...this.outstanding.values()]) if (o.task.job.id === jobId) this.cancelOne(o);
  }

  private cancelOne(o: Outstanding): void {
    // Redis unreachable: stop waiting now (shutdown must not hang); the job left in Redis is adopted
    // by the next coordinator if the studio queues it again.
    if (this.redis.status !== 'ready') return this.finish(o.bullId, { error: new CancelledError(0) }, false);
    void (async () => {
      const { queue } = this.queueFor(o.queue);
      // A waiting job is simply removed; an active one is told to stop on its worker.
      const removed = await queue.remove(o.bullId).catch(() => 0);
      if (removed) return this.finish(o.bullId, { error: new CancelledError(0) });
      await this.redis.publish(CANCEL_CHANNEL, o.bullId).catch(() => undefined);
    })();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const [id, o] of this.outstanding) o.reject(new AtelierApiError('cancelled', `The coordinator stopped; job ${id} stays in Redis`));
    // Bounded: with Redis gone, BullMQ's close would wait for a reconnect that may never come.
    await closeWithin(3000, [...this.queues.values()].flatMap(({ queue, events }) => [events.close(), queue.close()]));
    for (const { queue, events } of this.queues.values()) for (const c of [queue, events]) void c.disconnect().catch(() => undefined);
    this.redis.disconnect();
  }

  private queueFor(name: string): { queue: Queue; events: QueueEvents } {
    let q = this.queues.get(name);
    if (!q) {
      const connection = bullConnection(this.opts.farm);
      const queue = new Queue(name, { connection, prefix: FARM_PREFIX });
      const events = new QueueEvents(name, { connection, prefix: FARM_PREFIX });
      queue.on('error', () => undefined);
      events.on('error', () => undefined);
      events.on('progress', ({ jobId, data }) => this.onProgress(jobId, data as unknown as FarmProgress));
      // The event says which job ended; the result itself is read from the job (the event stream
      // may carry a trimmed or re-encoded copy), and 'failed' may be an attempt BullMQ retries.
      events.on('completed', ({ jobId }) => void this.reconcileOne(jobId));
      events.on('failed', ({ jobId }) => void this.reconcileOne(jobId));
      q = { queue, events };
      this.queues.set(name, q);
    }
    return q;
  }

  private onProgress(jobId: string, p: FarmProgress): void {
    const o = this.outstanding.get(jobId);
    if (!o || !p || typeof p.step !== 'number') return;
    if (!o.started) {
      o.started = true;
      this.fair.started(o.priority);
    }
    if (o.worker !== p.worker) {
      o.worker = p.worker;
      this.emit({ type: 'job:worker', jobId: o.task.job.id, worker: p.worker });
    }
    o.hooks.onProgress?.(p.step, p.total, p.elapsedMs, 'denoise');
    const pv = p.preview;
    if (pv && typeof pv.rgb === 'string' && pv.width > 0 && pv.height > 0) {
      const rgb = new Uint8Array(Buffer.from(pv.rgb, 'base64'));
      if (rgb.length === pv.width * pv.height * 3) o.hooks.onPreview?.({ step: pv.step, width: pv.width, height: pv.height, rgb });
    }
  }

  private finish(jobId: string, end: { result: FarmTaskResult; uploadId?: string } | { error: Error }, removeFromRedis = true): void {
    const o = this.outstanding.get(jobId);
    if (!o) return;
    this.outstanding.delete(jobId);
    if ('result' in end) o.resolve(end);
    else o.reject(end.error);
    void this.redis.del(refusedKey(jobId)).catch(() => undefined);
    // Read: the job's record is no longer needed in Redis (done jobs are kept only until then).
    if (removeFromRedis) void this.queueFor(o.queue).queue.remove(jobId).catch(() => undefined);
  }

  /** Reads one outstanding job's state from Redis, settles it when it has ended, and says the state. */
  private async reconcileOne(jobId: string): Promise<string> {
    const o = this.outstanding.get(jobId);
    if (!o) return 'unknown';
    const { queue } = this.queueFor(o.queue);
    // State first, then the job: read the other way round, a job that completes in between would
    // show 'completed' with the return value of the moment before (none).
    const state = await queue.getJobState(jobId).catch(() => 'unknown');
    if (state !== 'completed' && state !== 'failed' && state !== 'active') return state;
    const job = (await queue.getJob(jobId).catch(() => undefined)) as Job | undefined;
    if (!job) return state;
    if (state === 'completed') {
      const value: unknown = typeof job.returnvalue === 'string' ? JSON.parse(job.returnvalue) : job.returnvalue;
      if (isResultRef(value)) await this.readUpload(jobId, value);
      else if (value) this.finish(jobId, { result: value as FarmTaskResult }, false);
    } else if (state === 'failed') this.finish(jobId, { error: workerError(job.failedReason ?? 'failed on a farm worker') });
    else if (state === 'active' && !o.started) {
      o.started = true;
      this.fair.started(o.priority);
    }
    return state;
  }

  /** A result the worker uploaded: read from this coordinator's upload folder, then saved as usual. */
  private async readUpload(jobId: string, ref: Parameters<FarmResultStore['read']>[0]): Promise<void> {
    if (this.reading.has(jobId)) return;
    if (!this.results) return this.finish(jobId, { error: new Error(`worker ${ref.worker} uploaded this result, but this coordinator takes no uploads`) });
    this.reading.add(jobId);
    try {
      this.finish(jobId, { result: await this.results.read(ref), uploadId: ref.upload.id }, false);
    } catch (err) {
      this.finish(jobId, { error: err as Error });
    } finally {
      this.reading.delete(jobId);
    }
  }

  /**
   * 'fits' while some live worker holds the model and has not left the job for lack of memory; else
   * the refusals of those that hold it (none: nobody holds it).
   */
  private async unfitFor(jobId: string, modelHash: string): Promise<'fits' | FarmRefusal[]> {
    const holders = this.workers.filter((w) => w.models.some((m) => m.hash === modelHash));
    if (holders.length === 0) return [];
    const noted = await this.redis.hgetall(refusedKey(jobId)).catch(() => null);
    if (!noted) return 'fits'; // Redis flaky: never fail a job on a read that did not happen
    const refusals: FarmRefusal[] = [];
    for (const w of holders) {
      try {
        if (!noted[w.name]) return 'fits';
        refusals.push(JSON.parse(noted[w.name]) as FarmRefusal);
      } catch {
        return 'fits';
      }
    }
    return refusals;
  }

  private nobodyCanRun(task: ExecutorTask, refusals: FarmRefusal[]): AtelierApiError {
    const secs = Math.round(this.noWorkerTimeoutMs / 1000);
    const model = `${task.model.id} (content hash ${task.model.hash.slice(0, 12)}…)`;
    if (refusals.length === 0) return new AtelierApiError('model_error', `no worker has model ${model}: no farm worker holding it was seen for ${secs} s. Install it on a worker (atelier models) or start one with --models.`);
    const { width, height } = task.pipeline.params;
    const why = refusals.map((r) => `${r.worker}: ${r.reason}`).join(' — ');
    if (refusals.every((r) => r.kind === 'lora')) return new AtelierApiError('model_error', `no worker has the LoRAs of this job with model ${model}: every farm worker holding the model left it for ${secs} s. ${why}. Copy the LoRA files into a worker's models folder (loras/).`);
    if (refusals.every((r) => r.kind === 'controlnet')) return new AtelierApiError('model_error', `no worker has the ControlNets of this job with model ${model}: every farm worker holding the model left it for ${secs} s. ${why}. Copy the ControlNet into a worker's models folder (controlnets/).`);
    if (refusals.every((r) => r.kind === 'memory')) return new AtelierApiError('invalid_request', `no worker has enough memory for ${model} at ${width}×${height}: every farm worker holding it left the job for ${secs} s. ${why}`);
    return new AtelierApiError('invalid_request', `no worker can run ${model} at ${width}×${height}: every farm worker holding it left the job for ${secs} s. ${why}`);
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      const workers = await readWorkers(this.redis).catch(() => null);
      if (workers) {
        this.workers = workers;
        const key = JSON.stringify(workers.map((w) => [w.name, w.busy, w.jobId, w.jobsDone, w.models.map((m) => m.hash)]));
        if (key !== this.workersKey) {
          this.workersKey = key;
          this.emit({ type: 'farm:workers', workers });
        }
      }
      const now = Date.now();
      for (const [jobId, o] of [...this.outstanding]) {
        const state = await this.reconcileOne(jobId);
        // Only a job waiting for a worker can be one nobody can run (a running one is someone's).
        if (!this.outstanding.has(jobId) || !workers || !WAITING.has(state)) {
          o.orphanSince = null;
          continue;
        }
        const refusals = await this.unfitFor(jobId, o.task.model.hash);
        if (refusals === 'fits') {
          o.orphanSince = null;
          continue;
        }
        o.orphanSince ??= now;
        if (now - o.orphanSince < this.noWorkerTimeoutMs) continue;
        // Nobody can run it: take it out of the queue (unless a worker just took it) and fail it.
        const removed = await this.queueFor(o.queue).queue.remove(jobId).catch(() => 0);
        if (removed) this.finish(jobId, { error: this.nobodyCanRun(o.task, refusals) });
      }
    } finally {
      this.ticking = false;
    }
  }
}
