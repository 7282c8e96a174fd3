/**
 * Playwright fixture: a real `atelier serve` (the built CLI) on a free loopback port with a fresh
 * temporary user-data folder, shared by the tests of one worker.
 */
import { test as base } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface AtelierServer {
  url: string;
  home: string;
  process: ChildProcess;
}

export async function startAtelierServer(extraArgs: string[] = [], extraEnv: Record<string, string> = {}, existingHome?: string): Promise<AtelierServer> {
  const home = existingHome ?? mkdtempSync(join(tmpdir(), 'atelier-e2e-'));
  const port = extraArgs.includes('--port') ? [] : ['--port', '0'];
  const child = spawn(process.execPath, ['bin/atelier.mjs', 'serve', ...port, '--home', home, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ATELIER_HOME: home, ...extraEnv },
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /serving at (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return { url, home, process: child };
}

export async function stopAtelierServer(server: AtelierServer): Promise<void> {
  if (server.process.exitCode === null) {
    const exited = new Promise((r) => server.process.once('exit', r));
    server.process.kill('SIGTERM');
    await exited;
  }
  rmSync(server.home, { recursive: true, force: true });
}

export const test = base.extend<object, { atelier: AtelierServer }>({
  atelier: [
    async ({}, use) => {
      const server = await startAtelierServer();
      await use(server);
      await stopAtelierServer(server);
    },
    { scope: 'worker' },
  ],
});

export { expect } from '@playwright/test';
