/**
 * Never lose work: SIGKILL a writer process at random moments during generate-and-save
 * cycles. After each kill the database passes integrity_check and every image whose save
 * returned is present, readable and findable. Also: a second process is refused while the
 * first holds the project.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectLibrary } from '../../main/library';
import { removeDir, tempDir } from './helpers';

const WRITER = path.join(__dirname, 'fixtures', 'writer.ts');
const CYCLES = 50;

let root: string;
let projectDir: string;

beforeAll(async () => {
  root = tempDir();
  const lib = await ProjectLibrary.create(root, 'crash');
  projectDir = lib.dir;
  lib.close();
});
afterAll(() => removeDir(root));

function startWriter(args: string[]): { child: ChildProcess; lines: string[]; waitFor(pred: (l: string) => boolean): Promise<void>; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  const waiters: Array<{ pred: (l: string) => boolean; resolve(): void }> = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) if (w.pred(line)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
    }
  });
  // 'close': the process has exited AND its stdout/stderr are drained, so every line is in `lines`.
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    child,
    lines,
    exited,
    waitFor: (pred) =>
      new Promise<void>((resolve, reject) => {
        if (lines.some(pred)) return resolve();
        waiters.push({ pred, resolve });
        exited.then(() => reject(new Error(`writer exited early: ${lines.join('|')} ${stderr}`)));
      }),
  };
}

describe('crash safety across processes', () => {
  it('refuses a second process while the project is open, with a clear message', async () => {
    const lib = await ProjectLibrary.open(projectDir);
    try {
      const w = startWriter(['open', projectDir]);
      await w.exited;
      expect(w.lines.join('\n')).toMatch(/ProjectLockedError: Project .* is open elsewhere \(process \d+/);
    } finally {
      lib.close();
    }
    const w2 = startWriter(['open', projectDir]);
    await w2.exited;
    expect(w2.lines).toEqual(['OPENED']);
  });

  it(`${CYCLES} SIGKILLs at random moments never corrupt the project or lose a returned save`, async () => {
    const saved: string[] = [];
    let seed = 99;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
    let totalReindexed = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const w = startWriter(['write', projectDir, String(cycle + 1)]);
      await w.waitFor((l) => l === 'READY');
      // Half the cycles first let a save complete, so kills land at every stage of later saves.
      if (cycle % 2 === 0) await w.waitFor((l) => l.startsWith('OK '));
      await new Promise((r) => setTimeout(r, 5 + rnd() * 120));
      w.child.kill('SIGKILL');
      await w.exited;
      saved.push(...w.lines.filter((l) => l.startsWith('OK ')).map((l) => l.slice(3)));

      const lib = await ProjectLibrary.open(projectDir); // stale lock => reconcile
      try {
        expect(lib.database.pragma('integrity_check', { simple: true })).toBe('ok');
        expect(lib.database.pragma('foreign_key_check')).toEqual([]);
        lib.database.exec("INSERT INTO generations_fts(generations_fts, rank) VALUES ('integrity-check', 1)");
        totalReindexed += lib.lastReconcile?.reindexed.length ?? 0;
        expect(lib.lastReconcile?.missingFiles ?? []).toEqual([]);
        for (const id of saved) {
          const rec = lib.get(id);
          expect(rec, `saved generation ${id} lost after cycle ${cycle}`).not.toBeNull();
        }
        // Check the images of this cycle's saves decode (older ones were checked before).
        for (const id of w.lines.filter((l) => l.startsWith('OK ')).map((l) => l.slice(3))) {
          const meta = await sharp(lib.get(id)!.imagePath).metadata();
          expect([meta.width, meta.height]).toEqual([96, 64]);
        }
      } finally {
        lib.close();
      }
    }
    expect(saved.length).toBeGreaterThanOrEqual(CYCLES / 2); // the writers really were saving when killed
    console.log(`crash test: ${saved.length} saves across ${CYCLES} kills, ${totalReindexed} orphan files re-indexed`);
  }, 300_000);
});
