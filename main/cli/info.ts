/** `atelier info [--json]`: version, execution providers, data folders. */
import { listExecutionProviders } from '../engine';
import { APP_VERSION } from '../app/runtime';
import { defaultUserDataDir } from '../app/paths';
import type { CliIo } from './generate';

export async function runInfo(args: string[], io: CliIo): Promise<number> {
  const info = {
    version: APP_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    executionProviders: listExecutionProviders(),
    userDataDir: defaultUserDataDir(),
  };
  if (args.includes('--json')) io.stdout.write(`${JSON.stringify(info)}\n`);
  else {
    io.stdout.write(`Atelier ${info.version} (Node ${info.node}, ${info.platform})\n`);
    io.stdout.write(`Execution providers: ${info.executionProviders.map((p) => p.name).join(', ')}\n`);
    io.stdout.write(`Data folder: ${info.userDataDir}\n`);
  }
  return 0;
}
