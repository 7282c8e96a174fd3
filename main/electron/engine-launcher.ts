/**
 * The Electron app's engine launcher: the engine process as an Electron utilityProcess (a Node child
 * process the app's main process manages; child_process.fork would start another Electron binary).
 * Takes the `utilityProcess` module as an argument, so this adapter is unit-tested without Electron.
 */
import { ENGINE_V8_FLAGS, type EngineLauncher } from '../engine-host';

/** The part of Electron's UtilityProcess the adapter uses. */
export interface UtilityProcessLike {
  readonly pid: number | undefined;
  readonly stderr: NodeJS.ReadableStream | null;
  postMessage(message: unknown): void;
  kill(): boolean;
  on(event: 'exit', listener: (code: number) => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

export interface UtilityProcessModuleLike {
  fork(modulePath: string, args?: string[], options?: { serviceName?: string; execArgv?: string[]; stdio?: 'pipe' | 'ignore' | 'inherit' | Array<'pipe' | 'ignore' | 'inherit'> }): UtilityProcessLike;
}

export function utilityProcessLauncher(utility: UtilityProcessModuleLike, kill: (pid: number, signal: NodeJS.Signals) => void = (pid, signal) => process.kill(pid, signal)): EngineLauncher {
  return (entry) => {
    const child = utility.fork(entry.file, [], { serviceName: entry.serviceName, execArgv: [...entry.execArgv, ...ENGINE_V8_FLAGS], stdio: ['ignore', 'inherit', 'pipe'] });
    let exited = false;
    child.on('exit', () => (exited = true));
    return {
      get pid() {
        return child.pid;
      },
      send(msg) {
        if (!exited) child.postMessage(msg);
      },
      kill(signal = 'SIGKILL') {
        if (exited) return;
        // utilityProcess.kill() sends SIGTERM; the host's watchdogs need SIGKILL (a graph may be running).
        if (child.pid !== undefined) {
          try {
            kill(child.pid, signal);
            return;
          } catch {
            /* fall back below */
          }
        }
        child.kill();
      },
      // The app's lifetime is the window's, not the event loop's: nothing to (un)reference.
      ref() {},
      unref() {},
      onMessage(fn) {
        child.on('message', (m) => fn(m as Parameters<typeof fn>[0]));
      },
      onExit(fn) {
        // Electron reports only an exit code (a signal death shows as a non-zero code).
        child.on('exit', (code) => fn(code, null));
      },
      onStderr(fn) {
        child.stderr?.on('data', (chunk: Buffer | string) => fn(String(chunk)));
      },
    };
  };
}
