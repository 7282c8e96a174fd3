/**
 * LoRA files in the models folder: `<modelsDir>/loras/*.safetensors`, shared by every project
 * (model folders are recognised by a manifest or model_index.json, so `loras/` is never listed
 * as a model). Each entry carries what the studio and the infotext need:
 *  - name: the file name without `.safetensors` (what `<lora:name:w>` refers to, as in A1111);
 *  - hash: A1111's addnet hash (SHA-256 of the bytes after the header) — `Lora hashes` shows its
 *    first 12 digits, and imported A1111 PNGs find their LoRA by it;
 *  - base: SD 1.x / SD 2.x / SDXL from the header (metadata, then tensor names and shapes);
 *  - preview: an embedded SAI `modelspec.thumbnail` (data URI), or a sidecar `<name>.preview.png` / `<name>.png`.
 * Hashes are remembered in `loras/.index.json` by size and mtime, so listing does not re-read files.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, open, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loraBaseFromHeader, type LoraBase } from '../../common/lora-base';
import { parseSafetensorsHeader, safetensorsHeaderLength } from '../../common/safetensors';

export const LORAS_DIR = 'loras';

export interface LoraEntry {
  name: string;
  /** Absolute path of the .safetensors file. */
  file: string;
  /** Full addnet SHA-256 (hex). */
  hash: string;
  base: LoraBase | null;
  sizeBytes: number;
  /** Modules the file changes (kohya/PEFT up/down pairs), for the picker's "n layers". */
  tensors: number;
  /** kohya's `ss_network_dim` / `ss_network_alpha`, when present. */
  rank?: number;
  alpha?: number;
  /** data: URI (embedded) or absolute path of a sidecar image. */
  preview?: string;
  /** Words the LoRA was trained to respond to (SAI `modelspec.trigger_phrase`), when given. */
  triggerPhrase?: string;
}

interface IndexRecord {
  size: number;
  mtimeMs: number;
  entry: Omit<LoraEntry, 'file' | 'preview'> & { embeddedPreview?: string };
}

const MAX_EMBEDDED_PREVIEW = 2 * 1024 * 1024;

/** Header + addnet hash of one file, streamed (never the whole file in memory). */
async function describe(file: string): Promise<IndexRecord['entry'] & { size: number; mtimeMs: number }> {
  const st = await stat(file);
  const fh = await open(file, 'r');
  let headerLen: number;
  let headerBytes: Uint8Array;
  try {
    const first8 = new Uint8Array(8);
    await fh.read(first8, 0, 8, 0);
    headerLen = safetensorsHeaderLength(first8, st.size);
    headerBytes = new Uint8Array(headerLen);
    await fh.read(headerBytes, 0, headerLen, 8);
  } finally {
    await fh.close();
  }
  const header = parseSafetensorsHeader(headerBytes, st.size);
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file, { start: header.dataStart })
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve())
      .on('error', reject);
  });
  const md = header.metadata;
  const num = (v: string | undefined) => (v !== undefined && Number.isFinite(Number(v)) ? Number(v) : undefined);
  const thumb = md['modelspec.thumbnail'];
  return {
    name: path.basename(file, path.extname(file)),
    hash: hash.digest('hex'),
    base: loraBaseFromHeader(md, header.tensors.values()),
    sizeBytes: st.size,
    // One tensor per module: LoRA's down, LoHa's hada_w1_a, LoKr's lokr_w1 or lokr_w1_a (the engine merges all three).
    tensors: [...header.tensors.keys()].filter((k) => /(lora_down|lora_A|lora\.down)\.weight$|\.(hada_w1_a|lokr_w1|lokr_w1_a)$/.test(k)).length,
    ...(num(md.ss_network_dim) !== undefined ? { rank: num(md.ss_network_dim) } : {}),
    ...(num(md.ss_network_alpha) !== undefined ? { alpha: num(md.ss_network_alpha) } : {}),
    ...(thumb && /^data:image\/(png|jpeg|webp);base64,/.test(thumb) && thumb.length <= MAX_EMBEDDED_PREVIEW ? { embeddedPreview: thumb } : {}),
    ...(md['modelspec.trigger_phrase'] ? { triggerPhrase: md['modelspec.trigger_phrase'] } : {}),
    size: st.size,
    mtimeMs: Math.round(st.mtimeMs),
  };
}

export class LoraStoreError extends Error {
  override name = 'LoraStoreError';
}

export class LoraStore {
  readonly dir: string;

  constructor(modelsDir: string) {
    this.dir = path.join(modelsDir, LORAS_DIR);
  }

  private async readIndex(): Promise<Record<string, IndexRecord>> {
    try {
      return JSON.parse(await readFile(path.join(this.dir, '.index.json'), 'utf8')) as Record<string, IndexRecord>;
    } catch {
      return {};
    }
  }

  /** Every readable LoRA (unreadable files are reported in `problems`, not thrown). */
  async list(): Promise<{ loras: LoraEntry[]; problems: string[] }> {
    if (!existsSync(this.dir)) return { loras: [], problems: [] };
    const index = await this.readIndex();
    const next: Record<string, IndexRecord> = {};
    const loras: LoraEntry[] = [];
    const problems: string[] = [];
    const names = (await readdir(this.dir)).filter((f) => f.toLowerCase().endsWith('.safetensors')).sort();
    for (const f of names) {
      const file = path.join(this.dir, f);
      try {
        const st = await stat(file);
        let rec = index[f];
        if (!rec || rec.size !== st.size || rec.mtimeMs !== Math.round(st.mtimeMs)) {
          const { size, mtimeMs, ...entry } = await describe(file);
          rec = { size, mtimeMs, entry };
        }
        next[f] = rec;
        const { embeddedPreview, ...entry } = rec.entry;
        loras.push({ ...entry, file, ...(await this.preview(entry.name, embeddedPreview)) });
      } catch (err) {
        problems.push(`${f}: ${(err as Error).message}`);
      }
    }
    if (JSON.stringify(next) !== JSON.stringify(index)) await writeFile(path.join(this.dir, '.index.json'), JSON.stringify(next)).catch(() => undefined);
    return { loras, problems };
  }

  private async preview(name: string, embedded: string | undefined): Promise<{ preview?: string }> {
    for (const side of [`${name}.preview.png`, `${name}.png`, `${name}.preview.jpg`, `${name}.jpg`]) {
      if (existsSync(path.join(this.dir, side))) return { preview: path.join(this.dir, side) };
    }
    return embedded ? { preview: embedded } : {};
  }

  /** A LoRA by its prompt name (`<lora:name:…>`), or by a hash prefix of at least 10 digits (A1111 infotext). */
  async find(nameOrHash: string): Promise<LoraEntry | null> {
    const { loras } = await this.list();
    const key = nameOrHash.trim();
    const byName = loras.find((l) => l.name === key) ?? loras.find((l) => l.name.toLowerCase() === key.toLowerCase());
    if (byName) return byName;
    if (/^[0-9a-f]{10,64}$/i.test(key)) return loras.find((l) => l.hash.startsWith(key.toLowerCase())) ?? null;
    return null;
  }

  /**
   * Copy a .safetensors file into `loras/` (checked first: a file that is not a readable LoRA is
   * refused before anything is copied). The name is the file's, unless `name` is given.
   */
  async import(source: string, opts: { name?: string } = {}): Promise<LoraEntry> {
    if (!source.toLowerCase().endsWith('.safetensors')) throw new LoraStoreError(`${path.basename(source)}: only .safetensors LoRAs can be imported (pickled .ckpt/.pt files can run code when loaded).`);
    const info = await describe(source);
    if (info.tensors === 0) throw new LoraStoreError(`${path.basename(source)} holds no LoRA weights (no lora_down/lora_A, LoHa or LoKr tensors): is it a full model or an embedding?`);
    const name = (opts.name ?? info.name).replace(/[<>:"/\\|?*\u0000-\u001f]/g, '_').trim();
    if (!name) throw new LoraStoreError('a LoRA needs a name');
    await mkdir(this.dir, { recursive: true });
    const target = path.join(this.dir, `${name}.safetensors`);
    if (existsSync(target)) {
      const existing = await this.find(name);
      if (existing?.hash === info.hash) return existing;
      throw new LoraStoreError(`a different LoRA named "${name}" is already installed; import it under another name`);
    }
    const tmp = `${target}.importing`;
    await copyFile(source, tmp);
    await rename(tmp, target);
    const entry = await this.find(name);
    if (!entry) throw new LoraStoreError(`${name} was copied but cannot be read back`);
    return entry;
  }
}
