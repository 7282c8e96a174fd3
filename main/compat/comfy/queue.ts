/**
 * ComfyUI's prompt queue, history and WebSocket messages (server.py, main.py, execution.py),
 * over Atelier's one job queue: each accepted prompt is one `generate` job. What a client sees:
 *
 * - `POST /prompt` → the prompt is in `/queue` from the moment it is accepted until its history is
 *   written (clients that check `/queue` on every `status` never see it "go missing");
 * - per prompt, to the socket of its `client_id` (to every socket when it has none, as ComfyUI
 *   does): execution_start, execution_cached, executing per node, progress, binary previews,
 *   executed for output nodes, then history, execution_success, a `status`, and executing
 *   {node: null} last — or execution_error / execution_interrupted;
 * - a `status` at least every few seconds on a quiet socket (the SDK reconnects after 10 s of
 *   silence, failing its job), and whenever the queue changes.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { ApiErrorShape, GenerationRecord, LoraSummary } from '../../../common/api/contract';
import { generationPng, type CompatContext } from '../context';
import type { JobOutcome } from '../jobs';
import { GraphMappingError, mapGraph, validateGraph, type ComfyGraph, type ComfyPlan, type PromptError } from './graph';
import { comfyLoraName, nodeDefinitions, type NodeDef } from './node-defs';
import type { InputFiles } from './uploads';

interface ImageRef {
  filename: string;
  subfolder: string;
  type: 'output' | 'temp';
}

interface Entry {
  number: number;
  promptId: string;
  graph: ComfyGraph;
  extra: Record<string, unknown>;
  outputsToExecute: string[];
  clientId: string | null;
  plan: ComfyPlan;
  jobId: string | null;
  started: boolean;
  executed: string[];
  messages: [string, Record<string, unknown>][];
  /** Removed from the queue by POST /queue before it ran: it ends without history or messages. */
  deleted: boolean;
}

export interface HistoryItem {
  prompt: [number, string, ComfyGraph, Record<string, unknown>, string[]];
  outputs: Record<string, { images: ImageRef[] }>;
  status: { status_str: 'success' | 'error'; completed: boolean; messages: [string, Record<string, unknown>][] };
  meta: Record<string, { node_id: string; display_node: string; parent_node: null; real_node_id: string }>;
}

export type Enqueued = { ok: true; body: { prompt_id: string; number: number; node_errors: Record<string, never> } } | { ok: false; status: number; body: PromptError };

const MAX_HISTORY = 1000;
const MAX_FILES = 10_000;
const HEARTBEAT_MS = 1000;
/** A quiet socket gets a `status` after this long (the SDK gives up after 10 s). */
const QUIET_MS = 3000;
const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export class ComfyQueue {
  private readonly sockets = new Map<string, Set<WebSocket>>();
  private readonly lastSent = new WeakMap<WebSocket, number>();
  private readonly entries: Entry[] = [];
  private readonly history = new Map<string, HistoryItem>();
  /** `type/subfolder/filename` → generation id: what `/view` serves. */
  private readonly files = new Map<string, string>();
  private readonly counters = new Map<string, number>();
  private number = 0;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly offActivity: () => void;

  constructor(
    private readonly ctx: CompatContext,
    readonly inputs: InputFiles,
  ) {
    this.heartbeat = setInterval(() => this.keepAlive(), HEARTBEAT_MS);
    this.heartbeat.unref();
    this.offActivity = ctx.activity.onChange(() => this.broadcastStatus());
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.offActivity();
    for (const set of this.sockets.values()) for (const s of set) s.terminate();
    this.sockets.clear();
  }

  async definitions(): Promise<Record<string, NodeDef>> {
    const models = await this.ctx.models.list();
    const loras = await this.ctx.dispatch('listLoras', {});
    return nodeDefinitions({
      checkpoints: models.map((m) => m.id),
      inputImages: await this.inputs.list(),
      loras: loras.ok ? (loras.value as LoraSummary[]).map((l) => comfyLoraName(l.name)) : [],
    });
  }

  queueRemaining(): number {
    return new Set([...this.ctx.activity.jobs().map((j) => j.jobId), ...this.entries.map((e) => e.jobId ?? e.promptId)]).size;
  }

  // ---- WebSocket ------------------------------------------------------------------------------

  connect(socket: WebSocket, requestedId: string | null): void {
    const clientId = requestedId && CLIENT_ID.test(requestedId) ? requestedId : randomUUID().replace(/-/g, '');
    let set = this.sockets.get(clientId);
    if (!set) this.sockets.set(clientId, (set = new Set()));
    set.add(socket);
    socket.on('close', () => {
      set.delete(socket);
      if (set.size === 0 && this.sockets.get(clientId) === set) this.sockets.delete(clientId);
    });
    socket.on('error', () => socket.terminate());
    socket.on('message', () => undefined); // clients may send feature flags; nothing to answer
    this.sendTo(socket, JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: this.queueRemaining() } }, sid: clientId } }));
  }

  private sendTo(socket: WebSocket, data: string | Buffer): void {
    if (socket.readyState !== socket.OPEN) return;
    socket.send(data);
    this.lastSent.set(socket, Date.now());
  }

  /** To the sockets of `clientId`, or to every socket when the prompt named none (ComfyUI's sid=None). */
  private send(clientId: string | null, type: string, data: Record<string, unknown>): void {
    const text = JSON.stringify({ type, data });
    for (const s of this.targets(clientId)) this.sendTo(s, text);
  }

  private targets(clientId: string | null): WebSocket[] {
    if (clientId === null) return [...this.sockets.values()].flatMap((set) => [...set]);
    return [...(this.sockets.get(clientId) ?? [])];
  }

  private broadcastStatus(): void {
    const text = JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: this.queueRemaining() } } } });
    for (const set of this.sockets.values()) for (const s of set) this.sendTo(s, text);
  }

  private keepAlive(): void {
    const now = Date.now();
    const text = JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: this.queueRemaining() } } } });
    for (const set of this.sockets.values()) for (const s of set) if (now - (this.lastSent.get(s) ?? 0) >= QUIET_MS) this.sendTo(s, text);
  }

  // ---- POST /prompt ---------------------------------------------------------------------------

  async enqueue(body: unknown): Promise<Enqueued> {
    const refuse = (type: string, message: string, details = ''): Enqueued => ({ ok: false, status: 400, body: { error: { type, message, details, extra_info: {} }, node_errors: {} } });
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return refuse('invalid_prompt', 'The request body must be a JSON object with a "prompt" graph');
    const b = body as Record<string, unknown>;
    if (b.prompt === undefined || b.prompt === null) return refuse('no_prompt', 'No prompt provided', 'No prompt provided');
    let promptId: string = randomUUID();
    if (b.prompt_id !== undefined && b.prompt_id !== null) {
      if (typeof b.prompt_id !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(b.prompt_id)) return refuse('invalid_prompt', 'prompt_id must be 1–128 letters, digits, "_", "-", "." or ":"');
      if (this.history.has(b.prompt_id) || this.entries.some((e) => e.promptId === b.prompt_id)) return refuse('invalid_prompt', `prompt_id ${b.prompt_id} is already in use`);
      promptId = b.prompt_id;
    }
    const extra = typeof b.extra_data === 'object' && b.extra_data !== null && !Array.isArray(b.extra_data) ? { ...(b.extra_data as Record<string, unknown>) } : {};
    const clientId = typeof b.client_id === 'string' && b.client_id !== '' ? b.client_id : typeof extra.client_id === 'string' ? extra.client_id : null;
    if (clientId) extra.client_id = clientId;

    const validated = await validateGraph(b.prompt, await this.definitions(), this.inputs);
    if (!validated.ok) return { ok: false, status: 400, body: validated.error };
    let plan: ComfyPlan;
    try {
      plan = await mapGraph(validated.graph, validated.outputs, await this.ctx.models.list(), this.inputs);
    } catch (err) {
      if (err instanceof GraphMappingError) return { ok: false, status: 400, body: err.toPromptError(validated.outputs) };
      throw err;
    }

    const front = b.front === true;
    const number = typeof b.number === 'number' && Number.isFinite(b.number) ? b.number : front ? -this.number : this.number;
    this.number++;
    const entry: Entry = {
      number,
      promptId,
      graph: validated.graph,
      extra,
      outputsToExecute: validated.outputs,
      clientId,
      plan,
      jobId: null,
      started: false,
      executed: [],
      messages: [],
      deleted: false,
    };
    // In the queue before the reply, so a client checking /queue finds it.
    this.entries.push(entry);
    this.entries.sort((x, y) => x.number - y.number);
    const submitted = await this.ctx.jobs.submit(
      { method: 'generate', request: plan.request },
      {
        onStart: () => this.start(entry),
        onProgress: (step, total) => this.send(entry.clientId, 'progress', { value: step, max: total, prompt_id: entry.promptId, node: plan.samplerId }),
        onPreview: (png) => {
          // Binary preview: u32be 1 (PREVIEW_IMAGE), u32be 2 (PNG), the image.
          const header = Buffer.alloc(8);
          header.writeUInt32BE(1, 0);
          header.writeUInt32BE(2, 4);
          const frame = Buffer.concat([header, png]);
          for (const s of this.targets(entry.clientId)) this.sendTo(s, frame);
        },
      },
    );
    if (!submitted.ok) {
      this.entries.splice(this.entries.indexOf(entry), 1);
      return { ok: false, status: 400, body: apiErrorToPromptError(submitted.error, plan, validated.graph) };
    }
    entry.jobId = submitted.jobId;
    if (front) await this.ctx.dispatch('moveJob', { jobId: submitted.jobId, position: 0 });
    submitted.done.then(
      (outcome) => this.finish(entry, outcome),
      (err) => this.ctx.log(`ComfyUI prompt ${promptId}: ${String(err)}`),
    );
    this.broadcastStatus();
    return { ok: true, body: { prompt_id: promptId, number, node_errors: {} } };
  }

  private start(entry: Entry): void {
    if (entry.started || entry.deleted) return;
    entry.started = true;
    const { promptId, plan } = entry;
    const at = { prompt_id: promptId, timestamp: Date.now() };
    this.record(entry, 'execution_start', at);
    this.record(entry, 'execution_cached', { nodes: [], ...at });
    for (const node of [...plan.before, plan.samplerId]) this.send(entry.clientId, 'executing', { node, display_node: node, prompt_id: promptId });
    entry.executed.push(...plan.before);
  }

  /** Sends a message and keeps it for the history's `status.messages`, as ComfyUI does for these. */
  private record(entry: Entry, type: string, data: Record<string, unknown>): void {
    entry.messages.push([type, data]);
    this.send(entry.clientId, type, data);
  }

  private finish(entry: Entry, outcome: JobOutcome): void {
    const { promptId, plan } = entry;
    if (entry.deleted) {
      this.remove(entry);
      return;
    }
    this.start(entry);
    const outputs: HistoryItem['outputs'] = {};
    let status: HistoryItem['status'];
    if (outcome.kind === 'done') {
      entry.executed.push(plan.samplerId);
      for (const g of outcome.generations) this.ctx.models.remember(g.modelId, g.modelHash);
      for (const node of plan.after) {
        this.send(entry.clientId, 'executing', { node, display_node: node, prompt_id: promptId });
        entry.executed.push(node);
        const output = plan.outputs.find((o) => o.id === node);
        if (!output) continue;
        const images = outcome.generations.map((g) => this.nameOutput(g, output));
        outputs[node] = { images };
        this.send(entry.clientId, 'executed', { node, display_node: node, output: { images }, prompt_id: promptId });
      }
      entry.messages.push(['execution_success', { prompt_id: promptId, timestamp: Date.now() }]);
      status = { status_str: 'success', completed: true, messages: entry.messages };
    } else {
      const failure = {
        prompt_id: promptId,
        node_id: plan.samplerId,
        node_type: plan.samplerType,
        executed: [...entry.executed],
        timestamp: Date.now(),
      };
      if (outcome.kind === 'cancelled') this.record(entry, 'execution_interrupted', failure);
      else this.record(entry, 'execution_error', { ...failure, ...errorFields(outcome.error) });
      status = { status_str: 'error', completed: false, messages: entry.messages };
    }
    // History first, then the queue: a client never finds the prompt in neither.
    this.addHistory(promptId, {
      prompt: [entry.number, promptId, entry.graph, entry.extra, entry.outputsToExecute],
      outputs,
      status,
      meta: Object.fromEntries(Object.keys(outputs).map((id) => [id, { node_id: id, display_node: id, parent_node: null, real_node_id: id }])),
    });
    if (outcome.kind === 'done') this.send(entry.clientId, 'execution_success', { prompt_id: promptId, timestamp: Date.now() });
    this.remove(entry);
    this.send(entry.clientId, 'executing', { node: null, display_node: null, prompt_id: promptId });
  }

  private remove(entry: Entry): void {
    const i = this.entries.indexOf(entry);
    if (i >= 0) this.entries.splice(i, 1);
    this.broadcastStatus();
  }

  /** `{prefix}_{00001}_.png` (SaveImage, type output) or a temp name (PreviewImage), mapped to the generation. */
  private nameOutput(g: GenerationRecord, output: ComfyPlan['outputs'][number]): ImageRef {
    const type = output.classType === 'SaveImage' ? 'output' : 'temp';
    const parts = output.prefix.split(/[\\/]/).map(safeSegment).filter(Boolean);
    const base = (type === 'temp' ? 'ComfyUI_temp' : parts.pop()) || 'ComfyUI';
    const subfolder = type === 'temp' ? '' : parts.join('/');
    const key = `${type}/${subfolder}/${base}`;
    const counter = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, counter);
    const filename = `${base}_${String(counter).padStart(5, '0')}_.png`;
    this.files.set(`${type}/${subfolder}/${filename}`, g.id);
    if (this.files.size > MAX_FILES) this.files.delete(this.files.keys().next().value!);
    return { filename, subfolder, type };
  }

  private addHistory(promptId: string, item: HistoryItem): void {
    this.history.set(promptId, item);
    while (this.history.size > MAX_HISTORY) this.history.delete(this.history.keys().next().value!);
  }

  // ---- Queue, history, interrupt, view ----------------------------------------------------------

  queueView() {
    const row = (e: Entry) => [e.number, e.promptId, e.graph, e.extra, e.outputsToExecute];
    const live = this.entries.filter((e) => !e.deleted);
    return { queue_running: live.filter((e) => e.started).map(row), queue_pending: live.filter((e) => !e.started).map(row) };
  }

  /** POST /queue `{clear}` / `{delete: [ids]}`: only prompts that have not started. */
  async manageQueue(body: Record<string, unknown>): Promise<void> {
    const ids = body.clear === true ? this.entries.filter((e) => !e.started).map((e) => e.promptId) : Array.isArray(body.delete) ? body.delete.map(String) : [];
    for (const id of ids) {
      const entry = this.entries.find((e) => e.promptId === id && !e.started);
      if (!entry?.jobId) continue;
      // Marked first: the job's end arrives while `cancel` is still returning.
      entry.deleted = true;
      const r = await this.ctx.dispatch('cancel', { jobId: entry.jobId });
      if (!r.ok || !(r.value as { cancelled: boolean }).cancelled) entry.deleted = false;
    }
    if (ids.length) this.broadcastStatus();
  }

  historyView(maxItems: number | null, offset: number): Record<string, HistoryItem> {
    const keys = [...this.history.keys()];
    let from = offset;
    if (from < 0) from = maxItems !== null ? Math.max(0, keys.length - maxItems) : 0;
    const picked = keys.slice(from, maxItems !== null ? from + maxItems : undefined);
    return Object.fromEntries(picked.map((k) => [k, this.history.get(k)!]));
  }

  historyItem(promptId: string): Record<string, HistoryItem> {
    const item = this.history.get(promptId);
    return item ? { [promptId]: item } : {};
  }

  manageHistory(body: Record<string, unknown>): void {
    if (body.clear === true) this.history.clear();
    if (Array.isArray(body.delete)) for (const id of body.delete) this.history.delete(String(id));
  }

  /** POST /interrupt: the running prompt of this API (only `prompt_id` when given). Studio jobs are left alone. */
  async interrupt(promptId: string | null): Promise<void> {
    const running = this.entries.find((e) => e.started && !e.deleted && (promptId === null || e.promptId === promptId));
    if (running?.jobId) await this.ctx.dispatch('cancel', { jobId: running.jobId });
  }

  /** The PNG a history entry names (type output/temp). */
  async outputImage(filename: string, subfolder: string, type: string): Promise<Buffer | null> {
    const id = this.files.get(`${type}/${subfolder}/${filename}`);
    return id ? generationPng(this.ctx, { id }) : null;
  }
}

function safeSegment(s: string): string {
  return s.replace(/[^\p{L}\p{N} ._()-]/gu, '_').replace(/^\.+/, '').slice(0, 100);
}

function errorFields(error: ApiErrorShape) {
  return {
    exception_message: error.message,
    exception_type: error.code === 'invalid_request' ? 'ValueError' : error.code === 'not_found' ? 'FileNotFoundError' : 'RuntimeError',
    traceback: [],
    current_inputs: {},
    current_outputs: {},
  };
}

/** The AtelierApi refused the mapped request: name the node the refused field came from. */
function apiErrorToPromptError(error: ApiErrorShape, plan: ComfyPlan, graph: ComfyGraph): PromptError {
  const nodeErrors: PromptError['node_errors'] = {};
  const issues = error.issues?.length ? error.issues : [{ path: '', message: error.message }];
  for (const issue of issues) {
    const field = issue.path.split('.')[0];
    const node = plan.fieldNodes[field] ?? plan.samplerId;
    const entry = (nodeErrors[node] ??= { errors: [], dependent_outputs: plan.outputs.map((o) => o.id), class_type: graph[node]?.class_type ?? '' });
    entry.errors.push({ type: 'value_not_supported', message: issue.path ? `${issue.path}: ${issue.message}` : issue.message, details: issue.path, extra_info: { input_name: field } });
  }
  return {
    error: { type: error.code === 'busy' ? 'queue_full' : 'prompt_outputs_failed_validation', message: error.message, details: '', extra_info: {} },
    node_errors: nodeErrors,
  };
}
