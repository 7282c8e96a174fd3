/**
 * One LoRA file, read into memory (LoRAs are 10–400 MB; the merge touches nearly every tensor),
 * grouped by target module. Its identity is A1111's "addnet" hash: SHA-256 of the bytes after the
 * header, so editing metadata does not change it — the first 12 hex digits are what A1111 writes
 * in `Lora hashes`.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseSafetensorsHeader, safetensorsHeaderLength, safetensorsToFloat32, type SafetensorsEntry } from '../../../common/safetensors';
import { loraBaseFromHeader, type LoraBase } from '../../../common/lora-base';
import { fromFloat16Array } from '../float16';
import { parseLoraKey, parseUnsupportedKey, type LoraComponent, type LoraPart } from './keys';

export type { LoraBase };

/** One target module's tensors, by part (LoRA `down`/`up`/`alpha`/`mid`, LoHa `hada_*`, LoKr `lokr_*`, DoRA `dora_scale`/`magnitude`). */
export type LoraModule = { component: LoraComponent; module: string } & Partial<Record<LoraPart, SafetensorsEntry>>;

/** Tensors of an adapter type we do not merge, per type. */
export interface UnsupportedModules {
  type: string;
  modules: number;
  keys: number;
}

export interface LoraFile {
  path: string;
  name: string;
  /** Full SHA-256 (hex) of the tensor bytes (A1111's addnet hash; `Lora hashes` shows 12 digits). */
  hash: string;
  metadata: Record<string, string>;
  /** Keyed `${component}:${module}`. */
  modules: Map<string, LoraModule>;
  /** Tensor names that are no adapter weights we know (neither merged nor a known unsupported type). */
  ignored: string[];
  /** Modules of adapter types Atelier does not merge (OFT, IA³…): applying such a file is refused by name. */
  unsupported: UnsupportedModules[];
  /** Base model family the LoRA was trained for, when its metadata or shapes tell; null when unknown. */
  base: LoraBase | null;
  /** float32 values of one tensor. */
  read(entry: SafetensorsEntry): Float32Array;
}

/** Files above this are refused: Node reads at most 2 GiB at once, and no LoRA is near it. */
const MAX_LORA_BYTES = 2 ** 31 - 1;

export function readLoraFile(path: string): LoraFile {
  const size = statSync(path).size;
  if (size > MAX_LORA_BYTES) throw new Error(`${basename(path)} is ${(size / 2 ** 30).toFixed(1)} GB: that is a full model, not a LoRA (LoRAs are at most a few hundred MB).`);
  const buf = readFileSync(path);
  let header: ReturnType<typeof parseSafetensorsHeader>;
  try {
    const headerLen = safetensorsHeaderLength(buf.subarray(0, 8), buf.length);
    header = parseSafetensorsHeader(buf.subarray(8, 8 + headerLen), buf.length);
  } catch (err) {
    throw new Error(`LoRA ${basename(path)} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const modules = new Map<string, LoraModule>();
  const ignored: string[] = [];
  const unsupported = new Map<string, { modules: Set<string>; keys: number }>();
  for (const entry of header.tensors.values()) {
    const key = parseLoraKey(entry.name);
    if (key) {
      const id = `${key.component}:${key.module}`;
      let m = modules.get(id);
      if (!m) modules.set(id, (m = { component: key.component, module: key.module }));
      m[key.part] = entry;
      continue;
    }
    const other = parseUnsupportedKey(entry.name);
    if (!other) {
      ignored.push(entry.name);
      continue;
    }
    const u = unsupported.get(other.type) ?? { modules: new Set<string>(), keys: 0 };
    u.modules.add(`${other.component}:${other.module}`);
    u.keys++;
    unsupported.set(other.type, u);
  }
  // An OFT module also has an `.alpha`: a module with nothing but scalars/scales belongs to the unsupported type.
  for (const u of unsupported.values()) {
    for (const id of u.modules) {
      const m = modules.get(id);
      if (!m || hasWeights(m)) continue;
      u.keys += Object.keys(m).length - 2;
      modules.delete(id);
    }
  }
  const hash = createHash('sha256').update(buf.subarray(header.dataStart)).digest('hex');
  return {
    path,
    name: basename(path, extname(path)),
    hash,
    metadata: header.metadata,
    modules,
    ignored,
    unsupported: [...unsupported].map(([type, u]) => ({ type, modules: u.modules.size, keys: u.keys })),
    base: loraBaseFromHeader(header.metadata, header.tensors.values()),
    read(entry) {
      return safetensorsToFloat32(entry.dtype, buf.subarray(entry.begin, entry.end), fromFloat16Array);
    },
  };
}

/** Parts that carry a weight (anything but alpha and the DoRA magnitude). */
function hasWeights(m: LoraModule): boolean {
  return Object.keys(m).some((k) => k !== 'component' && k !== 'module' && k !== 'alpha' && k !== 'dora_scale' && k !== 'magnitude');
}
