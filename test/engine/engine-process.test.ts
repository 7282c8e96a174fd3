/**
 * Issue 15, items 8–10: the engine runs in a process of its own. Killing it (SIGKILL, as the kernel's
 * OOM killer does, or a native abort) fails only the generation in flight, with a readable reason;
 * the server process lives on, the engine restarts by itself with the last model, queued work stays
 * queued and the next generation succeeds. Watchdogs end an engine that makes no progress or uses
 * more memory than its cap.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AtelierEvent } from '../../common/api/contract';
import { EngineHost } from '../../main/engine-host/engine-host';
import type { EngineLauncher } from '../../main/engine-host/engine-launcher';
import { forkEngine } from '../../main/engine-host/engine-launcher';
import type { PipelineRequest } from '../../main/engine-host/protocol';
import { theEngineProcess } from '../helpers/engine-process';
import { useInProcessApi } from '../helpers/in-process-api';

const DEMO = join(process.cwd(), 'models', 'demo');
const txt = (width: number, steps: number, seed = 1): PipelineRequest => ({
  mode: 'txt2img',
  params: { prompt: 'a small yellow circle at the top on a purple background', negativePrompt: '', width, height: width, steps, guidanceScale: 1.3, seed, rng: 'cpu' },
});
const QUICK = txt(64, 2);
/** Long enough to be killed in the middle of (256², hundreds of steps). */
const LONG = txt(256, 400);

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Starts a generation and resolves once it has reported `steps` steps. */
async function startLong(host: EngineHost, steps = 2): Promise<{ running: Promise<unknown> }> {
  let reached!: () => void;
  const stepped = new Promise<void>((resolve) => (reached = resolve));
  const running = host.generate(LONG, 0, { onProgress: (p) => p.step >= steps && reached() });
  running.catch(() => undefined);
  await within(stepped, 60_000, 'the first steps');
  return { running };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the engine process', () => {
  it('runs the engine in another process, and SIGKILL of it mid-generation fails only that generation, readably; the engine restarts with the model', async () => {
    const logs: string[] = [];
    const host = new EngineHost({ log: (m) => logs.push(m) });
    try {
      await host.load(DEMO, 'cpu');
      const pid = host.enginePid!;
      expect(pid).toBeGreaterThan(0);
      expect(pid).not.toBe(process.pid);
      expect(await theEngineProcess()).toBe(pid);

      const { running } = await startLong(host);
      process.kill(pid, 'SIGKILL');
      const err = (await within(running.then(() => null, (e: Error) => e), 10_000, 'the killed generation')) as Error;
      expect(err.name).toBe('EngineStoppedError');
      expect(err.message).toMatch(/^The engine stopped: it was killed \(SIGKILL/);
      expect(err.message).toMatch(/during the 256×256 generation/);
      expect(err.message).toMatch(/It restarts by itself with the last model/);
      expect(logs.join('\n')).toMatch(/stopped: it was killed \(SIGKILL/);

      // It comes back by itself, with the same model, in a new process.
      await within(host.settled(), 60_000, 'the restart');
      expect(host.loadedModel?.folder).toBe(DEMO);
      expect(host.enginePid).toBeGreaterThan(0);
      expect(host.enginePid).not.toBe(pid);
      expect(isAlive(pid)).toBe(false);
      const out = await within(host.generate(QUICK, 0), 60_000, 'the next generation');
      expect(out.images).toHaveLength(1);
      expect(out.images[0].rgb).toBeInstanceOf(Uint8Array);
      expect(out.images[0].rgb.length).toBe(64 * 64 * 3);
    } finally {
      await host.close();
    }
  });

  it('a generation that makes no progress for the stall timeout ends the engine; the next one runs on a fresh engine', async () => {
    const logs: string[] = [];
    // The demo model at 256² spends well over 300 ms in one UNet step on this CPU (and in its VAE decode).
    const host = new EngineHost({ stallTimeoutMs: 300, log: (m) => logs.push(m) });
    try {
      await host.load(DEMO, 'cpu');
      const pid = host.enginePid!;
      const err = (await within(host.generate(txt(512, 3), 0).then(() => null, (e: Error) => e), 60_000, 'the stalled generation')) as Error;
      expect(err?.name).toBe('EngineStoppedError');
      expect(err.message).toMatch(/^The engine stopped: it made no progress for 300 ms (before its first step|after step \d+ of 3) of the 512×512 generation, so it was ended/);
      expect(logs.join('\n')).toMatch(/made no progress for 300 ms/);
      await within(host.settled(), 60_000, 'the restart');
      expect(isAlive(pid)).toBe(false);
    } finally {
      await host.close();
    }
  });

  it('an engine over its memory cap is ended with "out of memory at W×H"', async () => {
    let cap: number | null = null;
    const host = new EngineHost({ memoryCapBytes: () => cap, log: () => undefined });
    try {
      await host.load(DEMO, 'cpu');
      // A cap below what the loaded engine already holds: the first report during the generation ends it.
      const { running } = await startLong(host, 1);
      cap = 32 * 1024 * 1024;
      const err = (await within(running.then(() => null, (e: Error) => e), 10_000, 'the generation over the cap')) as Error;
      expect(err.name).toBe('EngineStoppedError');
      expect(err.message).toMatch(/^The engine stopped: out of memory at 256×256 \(it used \d+ MB; the engine's limit is 32 MB\) — try low-memory mode, VAE tiling or a smaller size\./);
      cap = null;
      await within(host.settled(), 60_000, 'the restart');
      expect((await within(host.generate(QUICK, 0), 60_000, 'the next generation')).images).toHaveLength(1);
    } finally {
      await host.close();
    }
  });

  it('stops restarting by itself after repeated deaths without a finished generation', async () => {
    const logs: string[] = [];
    const host = new EngineHost({ log: (m) => logs.push(m) });
    try {
      await host.load(DEMO, 'cpu');
      for (let i = 0; i < 4; i++) {
        const pid = host.enginePid;
        if (pid === undefined) break;
        process.kill(pid, 'SIGKILL');
        await within(
          (async () => {
            while (host.enginePid === pid) await new Promise((r) => setTimeout(r, 20));
          })(),
          10_000,
          'the death being noticed',
        );
        await within(host.settled(), 60_000, 'a restart');
      }
      expect(host.loadedModel).toBeNull();
      expect(logs.join('\n')).toMatch(/not restarting it by itself/);
      // A request still starts it (and the model with it).
      expect((await within(host.generate(QUICK, 0), 60_000, 'a generation after the give-up')).images).toHaveLength(1);
    } finally {
      await host.close();
    }
  });

  it('goes through the launcher seam (the Electron app passes a utilityProcess launcher)', async () => {
    const started: string[] = [];
    const launcher: EngineLauncher = (entry) => {
      started.push(entry.serviceName);
      return forkEngine(entry);
    };
    const host = new EngineHost({ launcher });
    try {
      await host.load(DEMO, 'cpu');
      expect((await host.generate(QUICK, 0)).images).toHaveLength(1);
      expect(started).toEqual(['Atelier engine']);
    } finally {
      await host.close();
    }
  });
});

describe('through the API: SIGKILL of the engine process mid-job', () => {
  const api = useInProcessApi(mkdtempSync(join(tmpdir(), 'atelier-engine-kill-')));

  it('fails the running job readably, keeps the queued job, which then succeeds on the restarted engine', async () => {
    const { client } = api;
    await client.loadModel({ modelId: 'atelier-demo', provider: 'cpu' });
    const events: AtelierEvent[] = [];
    const off = client.onEvent((e) => events.push(e));
    const ended = (jobId: string) =>
      within(
        new Promise<AtelierEvent>((resolve) => {
          const check = () => {
            const e = events.find((x) => (x.type === 'job:done' || x.type === 'job:failed' || x.type === 'job:cancelled') && x.jobId === jobId);
            if (e) resolve(e);
            else setTimeout(check, 50);
          };
          check();
        }),
        120_000,
        `job ${jobId}`,
      );
    try {
      const long = await client.generate({ prompt: 'a long render that will lose its engine', modelId: 'atelier-demo', width: 256, height: 256, steps: 400, seed: 1 });
      const next = await client.generate({ prompt: 'a small yellow circle at the top on a purple background', modelId: 'atelier-demo', width: 64, height: 64, steps: 3, seed: 2 });
      await within(
        (async () => {
          while (!events.some((e) => e.type === 'job:progress' && e.jobId === long.jobId && e.step >= 2)) await new Promise((r) => setTimeout(r, 50));
        })(),
        60_000,
        'the long job stepping',
      );
      const jobs = await client.listJobs();
      expect(jobs.find((j) => j.jobId === next.jobId)?.state).toBe('queued');

      process.kill(await theEngineProcess(), 'SIGKILL');

      const failed = await ended(long.jobId);
      expect(failed.type).toBe('job:failed');
      if (failed.type !== 'job:failed') throw new Error('unreachable');
      expect(failed.error.message).toMatch(/^The engine stopped: it was killed \(SIGKILL/);
      expect(failed.error.message).toMatch(/It restarts by itself with the last model/);

      const done = await ended(next.jobId);
      expect(done.type).toBe('job:done');
      const listed = await client.listJobs();
      expect(listed.find((j) => j.jobId === long.jobId)?.state).toBe('failed');
      expect(listed.find((j) => j.jobId === next.jobId)?.state).toBe('done');
      expect((await client.getSystemInfo()).loadedModel?.modelId).toBe('atelier-demo');
    } finally {
      off();
    }
  });
});
