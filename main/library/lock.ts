/**
 * One writer per project: a lock file holding { pid, hostname, since }, created with
 * O_EXCL. A lock whose process is gone (same host) is stale and taken over — and tells
 * the opener that the previous session did not close cleanly, so it reconciles files.
 * Locks from another host are also treated as stale: a folder copied to another machine
 * must open there, and SQLite's own locking still guards the database file itself.
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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
  let tookOverStale = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, JSON.stringify(me));
      fs.closeSync(fd);
      return {
        tookOverStale,
        release() {
          const holder = readHolder(file);
          if (holder && holder.pid === me.pid && holder.since === me.since) fs.rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readHolder(file);
    if (holder && holder.hostname === me.hostname && alive(holder.pid)) throw new ProjectLockedError(dir, holder);
    fs.rmSync(file, { force: true });
    tookOverStale = true;
  }
  throw new Error(`could not acquire the project lock ${file}: another process keeps recreating it`);
}
