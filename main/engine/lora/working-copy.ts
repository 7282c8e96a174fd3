/**
 * Merged weights live in a working copy of a graph's files inside a cache folder — never in the
 * installed model. Layout: `<cacheDir>/<model id>/<LoRA-set key>/` holding `model.onnx` and every
 * external-data file it names (a copy where we patch, a hard link where we do not), plus
 * `manifest.json`, written last, that records the source files' size/mtime and every byte range
 * patched.
 *
 * A folder whose manifest matches is reused as is (switching back to a LoRA set costs only the
 * session). When the model already has `maxSlots` folders, the least recently used one is
 * recycled: its patched ranges are first restored from the pristine files — bit-exact, so the copy
 * equals the original again — and then only the new ranges are written. Only changed byte ranges
 * are ever written after the first copy.
 */
import { createHash } from 'node:crypto';
import { constants, closeSync, copyFileSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, readSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import type { WeightPatch } from './merge';

export interface WorkingCopyOptions {
  cacheDir: string;
  /** Merged copies kept per model graph (each is a full copy of its weights unless the disk clones). Default 2. */
  maxSlots?: number;
}

interface PatchedRange {
  file: string;
  offset: number;
  length: number;
}

interface Manifest {
  version: 1;
  setKey: string;
  source: Record<string, { size: number; mtimeMs: number }>;
  /** 'copy': ours to write; 'link': a hard link to the installed file (never written). */
  files: Record<string, 'copy' | 'link'>;
  patched: PatchedRange[];
}

export interface PendingPatches {
  /** Files the patches will touch (null: the model file itself): these get a real copy. */
  files: ReadonlySet<string | null>;
  patches: () => AsyncIterable<WeightPatch>;
}

export interface WorkingCopy {
  /** The model file to create the session from. */
  modelPath: string;
  /** 'reused' (same LoRA set), 'recycled' (an older set's folder, restored then patched), 'created'. */
  how: 'reused' | 'recycled' | 'created';
  bytesWritten: number;
}

/** Identity of a model graph on disk: its resolved path (sessions and caches are per graph). */
export function modelId(modelPath: string): string {
  return createHash('sha256').update(resolve(modelPath)).digest('hex').slice(0, 16);
}

/** Key of a LoRA set for one graph: the LoRAs' content hashes and weights, in order. */
export function loraSetKey(component: string, loras: ReadonlyArray<{ hash: string; weight: number }>): string {
  const text = JSON.stringify([component, loras.map((l) => [l.hash, l.weight])]);
  return createHash('sha256').update(text).digest('hex').slice(0, 24);
}

function fingerprint(path: string): { size: number; mtimeMs: number } {
  const s = statSync(path);
  return { size: s.size, mtimeMs: Math.round(s.mtimeMs) };
}

function readManifest(dir: string): Manifest | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    return m.version === 1 ? m : null;
  } catch {
    return null;
  }
}

function writeManifest(dir: string, m: Manifest): void {
  const tmp = join(dir, 'manifest.json.tmp');
  writeFileSync(tmp, JSON.stringify(m));
  renameSync(tmp, join(dir, 'manifest.json'));
}

function sourcesUnchanged(m: Manifest, srcDir: string): boolean {
  return Object.entries(m.source).every(([f, fp]) => {
    try {
      const now = fingerprint(join(srcDir, f));
      return now.size === fp.size && now.mtimeMs === fp.mtimeMs;
    } catch {
      return false;
    }
  });
}

function readRange(file: string, offset: number, length: number): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const out = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, out, got, length - got, offset + got);
      if (n <= 0) throw new Error(`${file} ends before byte ${offset + length}`);
      got += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function writeRanges(file: string, ranges: ReadonlyArray<{ offset: number; bytes: Uint8Array }>): number {
  const fd = openSync(file, 'r+');
  let written = 0;
  try {
    for (const r of ranges) {
      let done = 0;
      while (done < r.bytes.length) done += writeSync(fd, r.bytes, done, r.bytes.length - done, r.offset + done);
      written += done;
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

function copyOrClone(from: string, to: string): void {
  // FICLONE: a copy-on-write clone on btrfs/XFS/APFS (instant, no extra disk), a plain copy elsewhere.
  copyFileSync(from, to, constants.COPYFILE_FICLONE);
}

function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    copyOrClone(from, to);
  }
}

/**
 * Restore every patched range of a slot from the pristine files: afterwards the slot's copies are
 * byte-identical to the installed files again (the "unmerge").
 */
export function restoreSlot(slotDir: string, srcDir: string, m: Pick<Manifest, 'patched'>): number {
  const byFile = new Map<string, Array<{ offset: number; bytes: Uint8Array }>>();
  for (const r of m.patched) {
    const list = byFile.get(r.file) ?? [];
    list.push({ offset: r.offset, bytes: readRange(join(srcDir, r.file), r.offset, r.length) });
    byFile.set(r.file, list);
  }
  let n = 0;
  for (const [file, ranges] of byFile) n += writeRanges(join(slotDir, file), ranges);
  return n;
}

/**
 * A folder with the graph's files and `patches` applied, for the LoRA set `setKey`.
 * `externalFiles` are the data files the graph names (relative to its folder). `merge.patches` runs
 * only when the folder has to be (re)built, so a reused LoRA set costs no merge; each patch is
 * written as it comes (one weight in memory at a time).
 */
export async function prepareWorkingCopy(modelPath: string, externalFiles: readonly string[], setKey: string, merge: PendingPatches, opts: WorkingCopyOptions): Promise<WorkingCopy> {
  const srcDir = dirname(resolve(modelPath));
  const modelFile = basename(modelPath);
  const root = join(opts.cacheDir, modelId(modelPath));
  const target = join(root, setKey);
  mkdirSync(root, { recursive: true });

  const existing = readManifest(target);
  if (existing && existing.setKey === setKey && sourcesUnchanged(existing, srcDir)) {
    const now = new Date();
    utimesSync(join(target, 'manifest.json'), now, now);
    return { modelPath: join(target, modelFile), how: 'reused', bytesWritten: 0 };
  }

  for (const f of externalFiles) {
    // A crafted model.onnx could name `../x` as its data file: we copy, link and write these paths, so they must stay inside the folder.
    if (isAbsolute(f) || normalize(f).split(/[\\/]/).includes('..')) throw new Error(`${modelPath}: external data "${f}" lies outside the model's folder; refusing to merge a LoRA into it`);
  }
  const allFiles = [modelFile, ...new Set(externalFiles.filter((f) => f !== modelFile))];
  const source = Object.fromEntries(allFiles.map((f) => [f, fingerprint(join(srcDir, f))]));
  const wanted: Record<string, 'copy' | 'link'> = {};
  // model.onnx is always ours (small, or holding inline weights we may patch).
  for (const f of allFiles) wanted[f] = f === modelFile || merge.files.has(f) ? 'copy' : 'link';

  // Recycle the least recently used slot beyond the limit (restore, then repurpose); drop broken ones.
  let how: WorkingCopy['how'] = 'created';
  let bytesWritten = 0;
  const slots = readdirSync(root)
    .filter((d) => d !== setKey)
    .map((d) => ({ dir: join(root, d), m: readManifest(join(root, d)) }));
  for (const s of slots.filter((x) => !x.m)) rmSync(s.dir, { recursive: true, force: true });
  const valid = slots.filter((s) => s.m && sourcesUnchanged(s.m, srcDir)) as Array<{ dir: string; m: Manifest }>;
  for (const s of slots.filter((x) => x.m && !valid.includes(x as { dir: string; m: Manifest }))) rmSync(s.dir, { recursive: true, force: true });
  rmSync(target, { recursive: true, force: true });
  const maxSlots = Math.max(1, opts.maxSlots ?? 2);
  if (valid.length >= maxSlots) {
    valid.sort((a, b) => statSync(join(a.dir, 'manifest.json')).mtimeMs - statSync(join(b.dir, 'manifest.json')).mtimeMs);
    const lru = valid[0];
    // Invalidate first: a crash between here and the new manifest leaves a folder that is discarded.
    rmSync(join(lru.dir, 'manifest.json'));
    bytesWritten += restoreSlot(lru.dir, srcDir, lru.m);
    renameSync(lru.dir, target);
    for (const f of allFiles) {
      const have = lru.m.files[f];
      if (have === wanted[f]) continue;
      rmSync(join(target, f), { force: true });
      if (wanted[f] === 'copy') copyOrClone(join(srcDir, f), join(target, f));
      else linkOrCopy(join(srcDir, f), join(target, f));
    }
    how = 'recycled';
    for (const s of valid.slice(1, 1 + valid.length - maxSlots)) rmSync(s.dir, { recursive: true, force: true });
  } else {
    mkdirSync(target, { recursive: true });
    for (const f of allFiles) {
      mkdirSync(dirname(join(target, f)), { recursive: true });
      if (wanted[f] === 'copy') copyOrClone(join(srcDir, f), join(target, f));
      else linkOrCopy(join(srcDir, f), join(target, f));
    }
  }

  const patched: PatchedRange[] = [];
  const fds = new Map<string, number>();
  try {
    for await (const p of merge.patches()) {
      const file = p.weight.file ?? modelFile;
      if (wanted[file] !== 'copy') throw new Error(`patch for ${p.weight.name} goes to ${file}, which was not announced (it is a link to the installed file)`);
      if (p.bytes.length !== p.weight.length) throw new Error(`patch for ${p.weight.name} is ${p.bytes.length} bytes, the weight ${p.weight.length}`);
      let fd = fds.get(file);
      if (fd === undefined) fds.set(file, (fd = openSync(join(target, file), 'r+')));
      let done = 0;
      while (done < p.bytes.length) done += writeSync(fd, p.bytes, done, p.bytes.length - done, p.weight.offset + done);
      bytesWritten += done;
      patched.push({ file, offset: p.weight.offset, length: p.weight.length });
    }
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
  writeManifest(target, { version: 1, setKey, source, files: wanted, patched });
  return { modelPath: join(target, modelFile), how, bytesWritten };
}

/** True when the slot folder for this set exists and is complete (tests, diagnostics). */
export function hasWorkingCopy(modelPath: string, setKey: string, cacheDir: string): boolean {
  return existsSync(join(cacheDir, modelId(modelPath), setKey, 'manifest.json'));
}

/**
 * Deletes the merged working copies made from the graphs of one model folder (every LoRA set), so
 * removing a model also frees its LoRA merges — which can be as large as the model itself. The
 * cache is keyed by graph path, so this must run before the folder is gone. Returns how many graphs had copies.
 */
export function removeWorkingCopiesOf(modelFolder: string, cacheDir: string): number {
  let removed = 0;
  let entries: string[];
  try {
    entries = readdirSync(modelFolder);
  } catch {
    return 0;
  }
  for (const sub of entries) {
    const dir = join(cacheDir, modelId(join(modelFolder, sub, 'model.onnx')));
    if (!existsSync(dir)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}
