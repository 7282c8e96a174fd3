/**
 * The engine process: started by the engine host (child_process.fork with advanced serialization in
 * server mode and the CLI, Electron's utilityProcess in the app), so a native abort, a kill or an
 * out-of-memory death takes only the engine with it, never the server or the app.
 *
 * It runs the engine on a worker thread of its own (engine-thread.ts, the same script) and relays
 * messages both ways. That thread is busy inside session.run for a whole UNet step; this thread is
 * not, so a `cancel` from the host lands in the shared cancel flag at once and the pipeline sees it
 * before its next UNet call. This thread also reports the process's memory to the host, which
 * enforces the hard cap (it can kill this process; the process cannot be trusted to stop itself
 * while a graph allocates), and it exits when the host goes away.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { resolveWorkerEntry } from './engine-entry';
import { CANCEL_SLOT, MEMORY_REPORT_MS, type EngineToHost, type HostToEngine, type WorkerToHost } from './protocol';

interface ParentLink {
  send(msg: EngineToHost): void;
  onMessage(fn: (msg: HostToEngine) => void): void;
}

/** Electron's utilityProcess child has process.parentPort; a forked Node child has process.send. */
function parentLink(): ParentLink {
  const electronPort = (process as unknown as { parentPort?: { on(e: 'message', fn: (ev: { data: unknown }) => void): void; postMessage(m: unknown): void } }).parentPort;
  if (electronPort) {
    return {
      send: (m) => electronPort.postMessage(m),
      onMessage: (fn) => electronPort.on('message', (ev) => fn(ev.data as HostToEngine)),
    };
  }
  const send = process.send?.bind(process);
  if (!send) throw new Error('The engine process is started by the engine host (child_process.fork or Electron utilityProcess), not directly.');
  // The host is gone (killed, crashed, exited without closing us): there is nobody to work for.
  process.on('disconnect', () => process.exit(0));
  return {
    // A closed channel reports through the callback instead of an 'error' event; the host is gone then.
    send: (m) => void send(m, undefined, {}, () => undefined),
    onMessage: (fn) => process.on('message', (m) => fn(m as HostToEngine)),
  };
}

/** Linux: makes the kernel's OOM killer pick this process before the server that started it. */
function preferAsOomVictim(): void {
  try {
    writeFileSync('/proc/self/oom_score_adj', '1000');
  } catch {
    /* not Linux, or not allowed: the host's cap still applies */
  }
}

/** Peak RSS (VmHWM) in bytes where Linux reports it, else the current RSS. */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return process.memoryUsage.rss();
}

/** Restarts VmHWM from the current RSS (Linux ≥ 4.0), so each generation's peak is its own. */
function resetPeak(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    /* not allowed here: the peak stays the process's */
  }
}

/**
 * The engine yields the CPU to the app: its threads run at a lower priority (nice 10 by default,
 * ATELIER_ENGINE_NICE to change it, 0 to keep the app's), so API calls and the UI stay quick while
 * every core generates — it changes nothing when the CPU is otherwise idle. Set before the engine
 * thread and ONNX Runtime's thread pool exist: threads inherit it from the thread that creates them.
 */
function lowerPriority(): void {
  const nice = Number(process.env.ATELIER_ENGINE_NICE ?? 10);
  if (!Number.isInteger(nice) || nice <= 0) return;
  try {
    setPriority(Math.min(19, nice));
  } catch {
    /* not permitted here: run at the app's priority */
  }
}

const link = parentLink();
lowerPriority();
preferAsOomVictim();

const cancelFlags = new Int32Array(new SharedArrayBuffer(4));
const entry = resolveWorkerEntry();
const thread = new Worker(entry.file, { execArgv: entry.execArgv, workerData: { cancelBuffer: cancelFlags.buffer } });
let fatal = false;
thread.on('message', (msg: WorkerToHost) => link.send(msg));
thread.on('error', (err) => {
  fatal = true;
  link.send({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
});
// The thread ends when asked to quit (code 0) or when it died (an 'error' came first): so does the process.
thread.on('exit', (code) => process.exit(fatal ? 70 : code));

link.onMessage((msg) => {
  switch (msg.type) {
    case 'cancel':
      Atomics.store(cancelFlags, CANCEL_SLOT, 1);
      return;
    case 'generate':
      // Cleared as the request is handed on: a cancel that comes after it (in order) stays raised.
      Atomics.store(cancelFlags, CANCEL_SLOT, 0);
      resetPeak();
      thread.postMessage(msg);
      return;
    case 'quit':
      // Releases the sessions and ends the thread once its current graph returns; then this process ends.
      Atomics.store(cancelFlags, CANCEL_SLOT, 1);
      thread.postMessage(msg);
      return;
    default:
      thread.postMessage(msg);
  }
});

setInterval(() => link.send({ type: 'memory', rss: process.memoryUsage.rss(), peak: peakRss() }), MEMORY_REPORT_MS).unref();
link.send({ type: 'process-ready', pid: process.pid });
