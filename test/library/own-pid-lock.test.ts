/**
 * Issue 15, item 7: after a container restart the server often gets the same PID (and hostname) as
 * the one that died holding a project's lock. That lock names "process N" — the new server itself —
 * and must be taken over as stale, not refuse start-up. A lock this process really holds (its own
 * open library) still refuses a second opener.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProjectLibrary, ProjectLockedError } from '../../main/library';
import { acquireProjectLock } from '../../main/library/lock';
import { removeDir, tempDir } from './helpers';

const LOCK = '.atelier-lock';
let root: string;
let dir: string;

beforeEach(async () => {
  root = tempDir('atelier-own-pid-');
  const lib = await ProjectLibrary.create(root, 'Restarted');
  dir = lib.dir;
  lib.close();
});
afterEach(() => removeDir(root));

/** A lock as a crashed earlier process with this PID would have left it (before this process started). */
function writeEarlierLifeLock(): void {
  fs.writeFileSync(path.join(dir, LOCK), JSON.stringify({ pid: process.pid, hostname: os.hostname(), since: Date.now() - process.uptime() * 1000 - 60_000 }));
}

describe('a stale lock that holds our own PID', () => {
  it('is taken over (with a reconcile, as after any crash) instead of "open elsewhere (process <our pid>)"', async () => {
    writeEarlierLifeLock();
    const lib = await ProjectLibrary.open(dir);
    try {
      expect(lib.isOpen).toBe(true);
      expect(lib.lastReconcile).not.toBeNull(); // took over a stale lock → the previous session crashed
      const holder = JSON.parse(fs.readFileSync(path.join(dir, LOCK), 'utf8'));
      expect(holder.pid).toBe(process.pid);
      expect(holder.since).toBeGreaterThan(Date.now() - process.uptime() * 1000 - 1);
      // This process now really holds it: a second opener is refused, naming us.
      await expect(ProjectLibrary.open(dir)).rejects.toBeInstanceOf(ProjectLockedError);
      await expect(ProjectLibrary.open(dir)).rejects.toThrow(new RegExp(`open elsewhere \\(process ${process.pid} `));
    } finally {
      lib.close();
    }
    expect(fs.existsSync(path.join(dir, LOCK))).toBe(false);
  });

  it('reports the takeover at the lock level, and a released lock can be taken again', () => {
    writeEarlierLifeLock();
    const first = acquireProjectLock(dir);
    expect(first.tookOverStale).toBe(true);
    expect(() => acquireProjectLock(dir)).toThrow(ProjectLockedError);
    first.release();
    first.release(); // idempotent
    const second = acquireProjectLock(dir);
    expect(second.tookOverStale).toBe(false);
    second.release();
  });

  it('is still refused when written by this process since it started (another thread of ours holds it)', () => {
    fs.writeFileSync(path.join(dir, LOCK), JSON.stringify({ pid: process.pid, hostname: os.hostname(), since: Date.now() }));
    expect(() => acquireProjectLock(dir)).toThrow(ProjectLockedError);
    fs.rmSync(path.join(dir, LOCK));
  });
});
