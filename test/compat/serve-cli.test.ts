/**
 * `atelier serve` opens the compatibility port next to the studio: `--compat-port 0` picks a free
 * one, the URL is printed, `--no-comfy` / `--no-a1111` turn either API off, and SIGTERM closes it
 * with the studio. Always runs: bin/atelier.mjs runs dist/main/cli.mjs, which vitest's globalSetup
 * (test/global-setup.ts) rebuilds whenever it is missing or older than the sources, and without a
 * build bin/atelier.mjs runs the TypeScript sources through tsx; either way the current code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, within } from './helpers';

const children: ChildProcess[] = [];
const homes: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

/** Starts `atelier serve …` and resolves with its stdout once `line` has been printed. */
function serve(args: string[], line: RegExp): Promise<{ child: ChildProcess; out: () => string }> {
  mkdirSync(join(REPO_ROOT, '.cache', 'compat-tests'), { recursive: true });
  const home = mkdtempSync(join(REPO_ROOT, '.cache', 'compat-tests', 'cli-'));
  homes.push(home);
  const child = spawn(process.execPath, ['bin/atelier.mjs', 'serve', '--port', '0', '--home', home, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  return within(
    60_000,
    `atelier serve ${args.join(' ')}`,
    new Promise((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (line.test(out)) resolve({ child, out: () => out });
      });
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (code) => reject(new Error(`atelier serve exited (${code}): ${err || out}`)));
    }),
  );
}

describe('atelier serve — compatibility port', () => {
  it('prints the A1111 and ComfyUI base URLs and answers both; SIGTERM closes it', async () => {
    const { child, out } = await serve(['--compat-port', '0'], /ComfyUI API (http:\/\/127\.0\.0\.1:\d+)/);
    const a1111 = /AUTOMATIC1111 API (http:\/\/127\.0\.0\.1:\d+)\/sdapi\/v1/.exec(out())![1];
    const comfy = /ComfyUI API (http:\/\/127\.0\.0\.1:\d+)/.exec(out())![1];
    expect(a1111).toBe(comfy);
    expect(((await (await fetch(`${a1111}/sdapi/v1/options`)).json()) as { sd_model_checkpoint: string }).sd_model_checkpoint).toBe('atelier-demo');
    expect(await (await fetch(`${comfy}/prompt`)).json()).toEqual({ exec_info: { queue_remaining: 0 } });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await within(30_000, 'serve exits on SIGTERM', exited)).toBe(0);
  });

  it('--no-comfy serves only A1111; --no-a1111 --no-comfy opens no compatibility port', async () => {
    const { out } = await serve(['--compat-port', '0', '--no-comfy'], /AUTOMATIC1111 API (http:\/\/127\.0\.0\.1:\d+)/);
    expect(out()).not.toMatch(/ComfyUI API/);
    const base = /AUTOMATIC1111 API (http:\/\/127\.0\.0\.1:\d+)/.exec(out())![1];
    expect((await fetch(`${base}/prompt`)).status).toBe(404);
    const none = await serve(['--no-a1111', '--no-comfy'], /Data folder:/);
    expect(none.out()).not.toMatch(/AUTOMATIC1111 API|ComfyUI API/);
  });

  it('an explicit --compat-port that is taken is an error, and the studio does not stay up', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      const failed = serve(['--compat-port', String(taken)], /never printed/);
      await expect(failed).rejects.toThrow(new RegExp(`exited \\(1\\): .*Port ${taken} is already in use: choose another with --compat-port`));
    } finally {
      blocker.close();
    }
  });
});
