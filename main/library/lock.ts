/**
 * One writer per project: a lock file holding { pid, hostname, since }, created with
 * O_EXCL. A lock whose process is gone (same host) is stale and taken over — and tells
 * the opener that the previous session did not close cleanly, so it reconciles files.
 * Locks from another host are also treated as stale: a folder copied to another machine
 * must open there, and SQLite's own locking still guards the database file itself.
 * A lock naming this very process is stale too unless this process holds it now: after a
 * container restart the new server often gets the old one's PID (and hostname), and must not
 * refuse to start because "process N" — itself — holds the project.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProjectLockedError } from './errors';
import { LOCK_FILE } from './project-files';

export interface LockHolder {
  pid: number;
  hostname: string;
  since: number;
}

export interface AcquiredLock {
  /** True when a stale lock was found: the previous session crashed. */
  tookOverStale: boolean;
  release(): void;
}

/** Lock files this process holds right now (real paths), so a lock naming our PID can be told apart from a stale one. */
const heldHere = new Set<string>();

function lockKey(dir: string, file: string): string {
  try {
    return path.join(fs.realpathSync(dir), LOCK_FILE);
  } catch {
    return path.resolve(file);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When this process started (wall clock): a lock naming our PID but older than that is from an earlier process. */
const processStartedAt = Date.now() - process.uptime() * 1000;

/**
 * Whether a same-host holder still holds the lock. Our own PID counts only while this process
 * holds it (this thread's open libraries, or a lock written since this process started, e.g. by
 * another thread); otherwise it is an earlier process that happened to get the same PID.
 */
function isHeld(holder: LockHolder, key: string): boolean {
  if (holder.pid === process.pid) return heldHere.has(key) || (typeof holder.since === 'number' && holder.since >= processStartedAt);
  return alive(holder.pid);
}

function readHolder(file: string): LockHolder | null {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    if (typeof j.pid === 'number' && typeof j.hostname === 'string') return j;
  } catch {
    /* unreadable or half-written lock: treat as stale */
  }
  return null;
}

export function acquireProjectLock(dir: string): AcquiredLock {
  const file = path.join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, hostname: os.hostname(), since: Date.now() };
  const key = lockKey(dir, file);
  let tookOverStale = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, JSON.stringify(me));
      fs.closeSync(fd);
      heldHere.add(key);
      let released = false;
      return {
        tookOverStale,
        release() {
          if (released) return;
          released = true;
          heldHere.delete(key);
          const holder = readHolder(file);
          if (holder && holder.pid === me.pid && holder.since === me.since) fs.rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readHolder(file);
    if (holder && holder.hostname === me.hostname && isHeld(holder, key)) throw new ProjectLockedError(dir, holder);
    fs.rmSync(file, { force: true });
    tookOverStale = true;
  }
  throw new Error(`could not acquire the project lock ${file}: another process keeps recreating it`);
}
