/**
 * Finds engine processes (main/engine-host/engine-process.ts) among a process's children on Linux,
 * from /proc: what a test SIGKILLs to prove the server or app survives its engine.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The engine script, bundled or from source: every engine process runs one of these. */
const ENGINE_SCRIPT = /engine-worker\.mjs|worker-source-entry\.mjs/;

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return null;
  }
}

function isEngine(pid: number): boolean {
  try {
    return ENGINE_SCRIPT.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

/** Pids of the live engine processes started by `parentPid` (default: this process). */
export function engineProcessPids(parentPid = process.pid): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (parentOf(pid) === parentPid && isEngine(pid)) {
      try {
        // A zombie (ended, not yet reaped) is not an engine any more.
        if (!/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) pids.push(pid);
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return pids;
}

/** Waits until `parentPid` has exactly one engine process, and returns its pid. */
export async function theEngineProcess(parentPid = process.pid, timeoutMs = 60_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const pids = engineProcessPids(parentPid);
    if (pids.length === 1) return pids[0];
    if (Date.now() > until) throw new Error(`expected one engine process under ${parentPid}, found ${pids.length}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
