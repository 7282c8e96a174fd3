/**
 * The built `atelier` command (bin/atelier.mjs → dist/main/cli.mjs, rebuilt from the current sources by
 * vitest's globalSetup, test/global-setup.ts, whenever dist/ is stale) as a real child process,
 * with a temporary ATELIER_HOME of its own so CLI tests never touch the user's data or each other's.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A fresh home folder (`prefix` + random suffix in the temp dir) and a runner bound to it. A failing
 * command resolves with its exit code rather than throwing, so tests can assert on code and stderr.
 */
export function cliWithHome(prefix: string): { home: string; atelier(args: string[]): Promise<CliResult> } {
  const home = mkdtempSync(join(tmpdir(), prefix));
  const env = { ...process.env, ATELIER_HOME: home };
  return {
    home,
    async atelier(args) {
      try {
        const r = await run(process.execPath, ['bin/atelier.mjs', ...args], { env, maxBuffer: 10 << 20 });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as CliResult;
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    },
  };
}
