/**
 * How the engine process is started, behind one small seam: `forkEngine` (child_process.fork, used by
 * server mode, the CLI and tests) here, and an Electron utilityProcess adapter that the desktop app
 * passes in (main/electron/engine-launcher.ts). EngineConnection is what the host and the model check
 * hold: it queues messages until the process listens, keeps the tail of its stderr and its memory
 * reports, and says in words why it ended.
 */
import { fork } from 'node:child_process';
import type { EngineEntry } from './engine-entry';
import type { EngineToHost, HostToEngine } from './protocol';

/** A started engine process, as the host sees it (Node ChildProcess or Electron UtilityProcess). */
export interface EngineChild {
  readonly pid: number | undefined;
  /** Posts a message (typed arrays survive: advanced serialization / structured clone); ignored once it has gone. */
  send(msg: HostToEngine): void;
  /** Ends it at once (default SIGKILL): the engine holds nothing that needs a clean shutdown. */
  kill(signal?: NodeJS.Signals): void;
  /** Whether it keeps this process alive (the host refs it only while work is outstanding). */
  ref(): void;
  unref(): void;
  onMessage(fn: (msg: EngineToHost) => void): void;
  /** Called once, after its last message has been delivered. */
  onExit(fn: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  onStderr(fn: (text: string) => void): void;
}

export type EngineLauncher = (entry: EngineEntry & { serviceName: string }) => EngineChild;

/** V8 flags of the engine process: the engine thread collects each job's garbage when it is done (engine-thread.ts). */
export const ENGINE_V8_FLAGS: readonly string[] = Object.freeze(['--expose-gc']);

/** child_process.fork of the engine script, with advanced serialization (typed arrays cross as such). */
export const forkEngine: EngineLauncher = (entry) => {
  const cp = fork(entry.file, [], {
    execArgv: [...entry.execArgv, ...ENGINE_V8_FLAGS],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  // Read while this process runs for other reasons; never what keeps it running.
  (cp.stderr as unknown as { unref?(): void } | null)?.unref?.();
  cp.stderr?.setEncoding('utf8');
  let exitFns: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
  let ended = false;
  const end = (code: number | null, signal: NodeJS.Signals | null) => {
    if (ended) return;
    ended = true;
    for (const fn of exitFns) fn(code, signal);
    exitFns = [];
  };
  // 'close' comes after the IPC channel and stdio have closed: every message has been delivered.
  cp.on('close', (code, signal) => end(code, signal));
  cp.on('error', (err) => {
    // Spawning failed (no 'close' follows), or a kill/send failed on a process that is going anyway.
    if (cp.pid === undefined) {
      process.nextTick(() => end(null, null));
      console.error(`Engine process could not start: ${err.message}`);
    }
  });
  return {
    get pid() {
      return cp.pid;
    },
    send(msg) {
      if (cp.connected) cp.send(msg, undefined, {}, () => undefined);
    },
    kill(signal = 'SIGKILL') {
      try {
        cp.kill(signal);
      } catch {
        /* already gone */
      }
    },
    ref() {
      cp.ref();
      cp.channel?.ref();
    },
    unref() {
      cp.unref();
      cp.channel?.unref();
    },
    onMessage(fn) {
      cp.on('message', (m) => fn(m as EngineToHost));
    },
    onExit(fn) {
      if (ended) fn(cp.exitCode, cp.signalCode);
      else exitFns.push(fn);
    },
    onStderr(fn) {
      cp.stderr?.on('data', (chunk: string) => fn(chunk));
    },
  };
};

const STDERR_TAIL_CHARS = 4000;

export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One engine process and what the host knows about it. */
export class EngineConnection {
  readonly child: EngineChild;
  /** Resident memory (bytes) at the last report, and the peak reported since the last generate began. */
  rss = 0;
  peak = 0;
  /** Set by the host when it ends the process itself, so the exit is explained by that reason. */
  endReason: string | null = null;
  /** Resolves when the process has ended (its last message delivered). */
  readonly exited: Promise<EngineExit>;
  private ready = false;
  private outbox: HostToEngine[] = [];
  private stderrTail = '';
  private fatal: string | null = null;
  private exit: EngineExit | null = null;

  constructor(launcher: EngineLauncher, entry: EngineEntry, serviceName: string, onMessage: (msg: EngineToHost) => void, opts: { echoStderr?: boolean } = {}) {
    this.child = launcher({ ...entry, serviceName });
    this.child.onStderr((text) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_CHARS);
      if (opts.echoStderr !== false) process.stderr.write(text);
    });
    this.child.onMessage((msg) => {
      switch (msg.type) {
        case 'process-ready':
          this.ready = true;
          for (const m of this.outbox.splice(0)) this.child.send(m);
          return;
        case 'memory':
          this.rss = msg.rss;
          this.peak = Math.max(this.peak, msg.peak, msg.rss);
          break;
        case 'fatal':
          this.fatal = msg.message;
          break;
      }
      onMessage(msg);
    });
    this.exited = new Promise((resolve) => this.child.onExit((code, signal) => resolve((this.exit = { code, signal }))));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  send(msg: HostToEngine): void {
    if (this.ready) this.child.send(msg);
    else this.outbox.push(msg);
  }

  /** Ends the process for `reason` (kept to explain its exit). */
  kill(reason: string): void {
    this.endReason ??= reason;
    this.child.kill('SIGKILL');
  }

  /** Waits at most `ms` for the process to end; true when it did. */
  async waitExit(ms: number): Promise<boolean> {
    if (!this.alive) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    return ended;
  }

  /** Why it ended, in words ("it was killed (SIGKILL)", "it crashed (SIGABRT): terminate called …"). */
  describeExit(exit: EngineExit): string {
    if (this.endReason) return this.endReason;
    if (this.fatal) return `it failed: ${this.fatal}`;
    const last = this.lastStderrLine();
    const said = last ? `: ${last}` : '';
    const { code, signal } = exit;
    if (signal === 'SIGKILL') {
      const used = this.rss > 0 ? `; last seen using ${formatBytes(this.rss)}` : '';
      return `it was killed (SIGKILL${used} — if memory ran out, try low-memory mode or a smaller size)`;
    }
    if (signal === 'SIGABRT' || signal === 'SIGSEGV' || signal === 'SIGBUS' || signal === 'SIGILL' || signal === 'SIGFPE') return `it crashed (${signal})${said}`;
    if (signal) return `it was ended by ${signal}`;
    if (code === 134) return `it crashed (native abort)${said}`;
    if (code === null) return `it could not be started${said}`;
    return `it exited with code ${code}${said}`;
  }

  private lastStderrLine(): string {
    const lines = this.stderrTail.split('\n').map((l) => l.trim()).filter(Boolean);
    const last = lines[lines.length - 1] ?? '';
    return last.length > 240 ? `${last.slice(0, 237)}…` : last;
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  return `${Math.round(bytes / 1024 ** 2)} MB`;
}
