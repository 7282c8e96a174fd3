/**
 * Signing in a long-lived process of its own (signer-worker.ts), started on first use and reused by
 * every Provenance in this process. Why: see signer-worker.ts (warm heap for c2pa's buffers, native
 * crashes contained). The image travels over a local socket as raw bytes and usually only the
 * inserted manifest comes back (signer-protocol.ts).
 *
 * Failure handling: a request the process does not answer because it died fails with
 * SignerCrashedError; one it does not answer in time kills it and fails with SignerTimeoutError; a
 * process that cannot be started fails with SignerUnavailableError. Each failure ends that process;
 * the next request starts a fresh one. Provenance retries a crashed request once in a fresh process,
 * signs in-process when no process can be started, and otherwise writes the image unsigned — so no
 * failure here ever loses an image.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path, { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImageMime, IngredientAsset } from './c2pa';
import type { SigningIdentity } from './identity';
import { encodeFrame, FrameReader, type SignRequestHeader, type SignResponseHeader } from './signer-protocol';

/**
 * glibc keeps up to 256 MiB of freed heap instead of handing it back to the kernel, and serves
 * blocks up to 128 MiB from that heap: c2pa's multi-MiB buffers are then reused, not faulted in
 * afresh on every signing (docs/BENCHMARKS.md, "Content credentials"). Only this process runs so;
 * other platforms' allocators ignore the variables.
 */
export const KEEP_FREED_MEMORY: Readonly<Record<string, string>> = Object.freeze({ MALLOC_MMAP_THRESHOLD_: '134217728', MALLOC_TRIM_THRESHOLD_: '268435456' });

export class SignerProcessError extends Error {
  override name = 'SignerProcessError';
}
/** The process ended before answering (killed, crashed, exited). */
export class SignerCrashedError extends SignerProcessError {
  override name = 'SignerCrashedError';
}
/** No answer within the request timeout: the process was killed. */
export class SignerTimeoutError extends SignerProcessError {
  override name = 'SignerTimeoutError';
}
/** The process could not be started here (no entry script, spawn refused, no hello in time). */
export class SignerUnavailableError extends SignerProcessError {
  override name = 'SignerUnavailableError';
}

export interface SignerProcessOptions {
  /** Longest wait for a started process to connect back (ms). */
  startTimeoutMs?: number;
  /** Longest wait for one signing (ms); a larger file gets proportionally longer (see requestTimeout). */
  requestTimeoutMs?: number;
  /** Extra environment for the process (tests set ATELIER_SIGNER_TEST_HOOK to make it misbehave). */
  env?: Record<string, string>;
}

export interface RemoteSignResult {
  /** The signed file. When the signer only inserted the manifest, built from the input on first read. */
  readonly bytes: Buffer;
  /** The same file as slices of the input and the inserted manifest (no copy), for writers that take parts. */
  readonly parts: Buffer[];
  warnings: string[];
  /** CPU the signing process spent on this request (ms). */
  signerCpuMs: number;
}

/** Where the signing process's script is: bundled next to the built main, else the source entry (tsx). */
export function resolveSignerEntry(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, 'signer-worker.mjs');
  if (existsSync(bundled)) {
    const unpacked = bundled.replace(`app.asar${sep}`, `app.asar.unpacked${sep}`);
    return existsSync(unpacked) ? unpacked : bundled;
  }
  const source = join(here, 'signer-source-entry.mjs');
  return existsSync(source) ? source : null;
}

interface Pending {
  resolve: (r: RemoteSignResult) => void;
  reject: (e: Error) => void;
  input: Buffer;
  timer: ReturnType<typeof setTimeout>;
}

const STDERR_TAIL = 2000;

/** One started signing process and its connection. */
class SignerConnection {
  private socket: net.Socket | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private ended: Error | null = null;
  private stderrTail = '';
  private child: ReturnType<typeof spawn> | null = null;
  readonly ready: Promise<void>;
  pid: number | undefined;

  constructor(entry: string, private readonly opts: Required<Omit<SignerProcessOptions, 'env'>> & { env: Record<string, string> }) {
    const token = randomBytes(24).toString('hex');
    const dir = process.platform === 'win32' ? null : mkdtempSync(path.join(os.tmpdir(), 'atelier-signer-'));
    const socketPath = dir ? path.join(dir, 's') : `\\\\.\\pipe\\atelier-signer-${randomBytes(12).toString('hex')}`;
    const server = net.createServer();
    const cleanup = () => {
      server.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    };
    this.ready = new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => {
        cleanup();
        this.kill(e);
        reject(e);
      };
      const timer = setTimeout(() => fail(new SignerUnavailableError(`the signing process did not connect within ${this.opts.startTimeoutMs} ms${this.said()}`)), this.opts.startTimeoutMs);
      server.on('error', (err) => {
        clearTimeout(timer);
        fail(new SignerUnavailableError(`cannot open the signing socket: ${err.message}`));
      });
      server.on('connection', (sock) => {
        const reader = new FrameReader();
        let greeted = false;
        sock.on('data', (chunk: Buffer) => {
          try {
            reader.push(chunk);
            for (let f = reader.next(); f; f = reader.next()) {
              if (!greeted) {
                // Only the process we started knows the token: anyone else is dropped.
                if (f.header.type !== 'hello' || f.header.token !== token || this.socket) return sock.destroy();
                greeted = true;
                clearTimeout(timer);
                this.socket = sock;
                cleanup(); // no second connection is accepted
                if (this.pending.size === 0) this.unref();
                resolve();
              } else this.answer(f.header as unknown as SignResponseHeader, f.body);
            }
          } catch (err) {
            sock.destroy();
            this.kill(new SignerCrashedError(`the signing process sent a malformed answer (${(err as Error).message})`));
          }
        });
        sock.on('error', () => undefined);
        sock.on('close', () => {
          if (sock === this.socket) this.end(new SignerCrashedError(`the signing process closed its connection${this.said()}`));
        });
      });
      server.listen(socketPath, () => {
        if (this.ended) return; // gave up before the socket was even open
        // Electron's main process runs node scripts with ELECTRON_RUN_AS_NODE; plain Node ignores it.
        const child = spawn(process.execPath, [entry], {
          env: { ...process.env, ...KEEP_FREED_MEMORY, ...this.opts.env, ELECTRON_RUN_AS_NODE: '1', ATELIER_SIGNER_SOCKET: socketPath, ATELIER_SIGNER_TOKEN: token },
          stdio: ['ignore', 'ignore', 'pipe'],
          windowsHide: true,
        });
        this.child = child;
        this.pid = child.pid;
        child.stderr?.setEncoding('utf8');
        child.stderr?.on('data', (t: string) => (this.stderrTail = (this.stderrTail + t).slice(-STDERR_TAIL)));
        child.on('error', (err) => {
          clearTimeout(timer);
          fail(new SignerUnavailableError(`cannot start the signing process: ${err.message}`));
        });
        child.on('exit', (code, signal) => {
          clearTimeout(timer);
          const how = signal ? `was ended by ${signal}` : `exited with code ${code}`;
          const err = this.socket ? new SignerCrashedError(`the signing process ${how}${this.said()}`) : new SignerUnavailableError(`the signing process ${how} before connecting${this.said()}`);
          if (!this.socket) fail(err);
          else this.end(err);
        });
        this.unref();
      });
    });
    // Nobody may be awaiting `ready` when it fails (a start that nobody used): not an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  get alive(): boolean {
    return this.ended === null;
  }

  async sign(input: Buffer, mime: ImageMime, definition: Record<string, unknown>, identity: SigningIdentity, ingredients: IngredientAsset[]): Promise<RemoteSignResult> {
    await this.ready;
    if (this.ended || !this.socket) throw this.ended ?? new SignerCrashedError('the signing process is not connected');
    const id = this.nextId++;
    const header: SignRequestHeader = {
      type: 'sign',
      id,
      mime,
      definition,
      identity: { certificate: identity.certificate.toString('utf8'), privateKey: identity.privateKey.toString('utf8'), algorithm: identity.algorithm, key: `${identity.source}\0${identity.serialNumber}` },
      assetLength: input.length,
      ingredients: ingredients.map((i) => ({ mime: i.mime, title: i.title, instanceId: i.instanceId, relationship: i.relationship, length: i.bytes.length })),
    };
    const socket = this.socket;
    return new Promise<RemoteSignResult>((resolve, reject) => {
      const ms = requestTimeout(this.opts.requestTimeoutMs, input.length + ingredients.reduce((n, i) => n + i.bytes.length, 0));
      const timer = setTimeout(() => this.kill(new SignerTimeoutError(`the signing process did not answer within ${ms} ms; it was stopped`)), ms);
      this.pending.set(id, { resolve, reject, input, timer });
      this.ref();
      socket.cork();
      // The bytes go out from the caller's buffers as they are (no copy); nobody changes them meanwhile.
      for (const part of encodeFrame(header, [input, ...ingredients.map((i) => i.bytes)])) socket.write(part);
      socket.uncork();
    });
  }

  /** Sends a frame at which the worker kills itself (only with ATELIER_SIGNER_TEST_HOOK=crash-frame). */
  crashForTest(): void {
    if (this.socket) for (const part of encodeFrame({ type: 'crash-for-test' })) this.socket.write(part);
  }

  kill(reason: Error): void {
    this.end(reason);
    try {
      this.child?.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }

  private answer(h: SignResponseHeader, body: Buffer): void {
    const p = this.pending.get(h.id);
    if (!p) return;
    this.pending.delete(h.id);
    clearTimeout(p.timer);
    if (this.pending.size === 0) this.unref();
    if (h.type === 'failed') {
      p.reject(Object.assign(new Error(h.message), { warnings: h.warnings }));
      return;
    }
    // The body is a view into the reader's buffer: keep a copy of the (small) inserted block.
    const block = Buffer.from(body);
    if (h.mode === 'whole') {
      p.resolve({ bytes: block, parts: [block], warnings: h.warnings, signerCpuMs: h.cpuMs });
      return;
    }
    const parts = [p.input.subarray(0, h.at), block, p.input.subarray(h.at)];
    let joined: Buffer | null = null;
    p.resolve({
      get bytes() {
        return (joined ??= Buffer.concat(parts));
      },
      parts,
      warnings: h.warnings,
      signerCpuMs: h.cpuMs,
    });
  }

  private end(reason: Error): void {
    if (this.ended) return;
    this.ended = reason;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.pending.clear();
    this.socket?.destroy();
  }

  /** Outstanding work keeps this process alive; an idle signer never does (it ends with us). */
  private ref(): void {
    this.child?.ref();
    this.socket?.ref();
  }

  private unref(): void {
    this.child?.unref();
    this.socket?.unref();
    (this.child?.stderr as unknown as { unref?(): void } | null)?.unref?.();
  }

  private said(): string {
    const last = this.stderrTail.split('\n').map((l) => l.trim()).filter(Boolean).pop();
    return last ? `: ${last.slice(0, 240)}` : '';
  }
}

/** A signing takes c2pa ~4 ms per MiB on a quiet machine: the timeout is generous, and grows with the file. */
export function requestTimeout(baseMs: number, bytes: number): number {
  return Math.round(baseMs + (bytes / (1024 * 1024)) * 1000);
}

/** The signing process this app process uses, started on first use. */
export class SignerProcess {
  private conn: SignerConnection | null = null;
  private readonly opts: Required<Omit<SignerProcessOptions, 'env'>> & { env: Record<string, string> };
  /** How many processes were started (the first, and one per restart after a failure). */
  starts = 0;

  constructor(opts: SignerProcessOptions = {}) {
    this.opts = { startTimeoutMs: opts.startTimeoutMs ?? 20_000, requestTimeoutMs: opts.requestTimeoutMs ?? 30_000, env: opts.env ?? {} };
  }

  /** Starts the process now (else the first signing does); resolves when it has connected. */
  start(): Promise<void> {
    return this.connection().ready;
  }

  get pid(): number | undefined {
    return this.conn?.alive ? this.conn.pid : undefined;
  }

  sign(input: Buffer, mime: ImageMime, definition: Record<string, unknown>, identity: SigningIdentity, ingredients: IngredientAsset[] = []): Promise<RemoteSignResult> {
    return this.connection().sign(input, mime, definition, identity, ingredients);
  }

  /** Ends the process (outstanding requests fail with SignerCrashedError); the next signing starts a new one. */
  close(): void {
    this.conn?.kill(new SignerCrashedError('the signing process was shut down'));
    this.conn = null;
  }

  /** Tests: makes the process die at this frame (ATELIER_SIGNER_TEST_HOOK=crash-frame). */
  crashForTest(): void {
    this.conn?.crashForTest();
  }

  private connection(): SignerConnection {
    if (this.conn?.alive) return this.conn;
    const entry = resolveSignerEntry();
    if (!entry) throw new SignerUnavailableError('the signing process script is not built (dist/main/signer-worker.mjs)');
    this.starts++;
    this.conn = new SignerConnection(entry, this.opts);
    return this.conn;
  }
}
