/**
 * ControlNet graphs in the models folder, shared by every project:
 *  - `<modelsDir>/controlnets/<name>/model.onnx` (a folder: external data and a `config.json` may sit beside it),
 *  - `<modelsDir>/controlnets/<name>.onnx`,
 *  - and those bundled with the app (`models/controlnets/<name>/model.onnx` in the app root), listed
 *    after the user's: a user's ControlNet of the same name wins.
 * Each entry carries what the studio, the generate request and the record need: its name (what a
 * request's `controlNets[].model` names), the sha256 of its model.onnx (recorded with each image, so a
 * reproduction finds it under another name), the base family its graph fits and the kind of control
 * image it takes.
 *
 * The graph's inputs are read by a reader the caller passes (main/models may not import the engine;
 * the app passes the engine's protobuf header reader, which never creates an ORT session). Hashes and
 * inputs are remembered in `controlnets/.index.json` by size and mtime, so listing does not re-read a
 * multi-GB file each call.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const CONTROLNETS_DIR = 'controlnets';

export type ControlNetBaseFamily = 'sd1' | 'sd2' | 'sdxl';
export type SuggestedAnnotator = 'canny' | 'depth' | 'pose';

/** One graph input as the header reader sees it: dims are numbers, symbolic names or unknown. */
export interface GraphInputInfo {
  name: string;
  shape: Array<number | string | null> | null;
}

/** Reads a graph's inputs without running it (the engine's ONNX header reader). */
export type GraphInputReader = (modelFile: string) => GraphInputInfo[];

export interface ControlNetEntry {
  name: string;
  /** Absolute path of its model.onnx (or `<name>.onnx`). */
  file: string;
  /** Full sha256 (hex) of that file. */
  hash: string;
  baseFamily: ControlNetBaseFamily | null;
  controlType: string | null;
  suggestedAnnotator: SuggestedAnnotator | null;
  /** The graph file plus, for a folder, everything beside it (external weights). */
  sizeBytes: number;
  bundled: boolean;
}

interface IndexRecord {
  size: number;
  mtimeMs: number;
  hash: string;
  baseFamily: ControlNetBaseFamily | null;
}

/** Names of control types, as ControlNet model names and configs spell them (lllyasviel, TensorStack, diffusers). */
const CONTROL_TYPES: ReadonlyArray<[RegExp, string]> = [
  [/canny|edge/, 'canny'],
  [/depth|midas|zoe/, 'depth'],
  [/openpose|dwpose|pose/, 'pose'],
  [/lineart[_-]?anime/, 'lineart_anime'],
  [/lineart/, 'lineart'],
  [/scribble|sketch/, 'scribble'],
  [/softedge|hed|pidi/, 'softedge'],
  [/normal/, 'normal'],
  [/\bseg|segment/, 'seg'],
  [/mlsd|line[_-]?seg/, 'mlsd'],
  [/tile/, 'tile'],
  [/inpaint/, 'inpaint'],
  [/shuffle/, 'shuffle'],
  [/qr|brightness|illumination/, 'qrcode'],
];

/** The annotator (A1111 "Preprocessor") that makes each type's control image from a photo, where the engine has one. */
const ANNOTATOR_FOR: Readonly<Record<string, SuggestedAnnotator>> = { canny: 'canny', depth: 'depth', pose: 'pose' };

/** `canny`, `depth`, … from free text (a config value or a model name); null when nothing fits. */
export function controlTypeFromText(text: string): string | null {
  const t = text.toLowerCase();
  return CONTROL_TYPES.find(([re]) => re.test(t))?.[1] ?? null;
}

export function suggestedAnnotatorFor(controlType: string | null): SuggestedAnnotator | null {
  return controlType ? ANNOTATOR_FOR[controlType] ?? null : null;
}

/**
 * The base family a ControlNet graph fits, from its inputs: SDXL ControlNets take `text_embeds` /
 * `time_ids` (and 2048-wide text states); SD 1.x text states are 768 wide, SD 2.x 1024.
 */
export function baseFamilyFromInputs(inputs: readonly GraphInputInfo[]): ControlNetBaseFamily | null {
  if (inputs.some((i) => i.name === 'text_embeds' || i.name === 'time_ids')) return 'sdxl';
  const states = inputs.find((i) => i.name === 'encoder_hidden_states');
  const width = states?.shape?.[states.shape.length - 1];
  if (width === 768) return 'sd1';
  if (width === 1024) return 'sd2';
  if (width === 2048) return 'sdxl';
  return null;
}

/** `control_type` (ours), or diffusers/TensorStack-ish keys naming the condition; null when the config says nothing. */
async function controlTypeFromConfig(folder: string): Promise<string | null> {
  const file = path.join(folder, 'config.json');
  if (!existsSync(file)) return null;
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null; // a broken config only loses the type; the name may still say it
  }
  for (const key of ['control_type', 'controlType', 'condition_type', 'conditioning_type', 'type', '_name_or_path']) {
    const v = config[key];
    if (typeof v === 'string' && v.trim()) {
      const known = controlTypeFromText(v);
      if (known) return known;
      if (key === 'control_type' || key === 'controlType') return v.trim().toLowerCase();
    }
  }
  return null;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return hash.digest('hex');
}

/** Bytes of a ControlNet folder (graph + external weights), one level deep. */
async function folderBytes(folder: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(folder, { withFileTypes: true })) {
    if (f.isFile()) total += (await stat(path.join(folder, f.name))).size;
  }
  return total;
}

interface Candidate {
  name: string;
  file: string;
  folder: string | null;
  bundled: boolean;
}

/** `<dir>/<name>/model.onnx` and `<dir>/<name>.onnx`, sorted by name. */
async function candidatesIn(dir: string, bundled: boolean): Promise<Candidate[]> {
  if (!existsSync(dir)) return [];
  const out: Candidate[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory() && existsSync(path.join(dir, e.name, 'model.onnx'))) {
      out.push({ name: e.name, file: path.join(dir, e.name, 'model.onnx'), folder: path.join(dir, e.name), bundled });
    } else if (e.isFile() && e.name.toLowerCase().endsWith('.onnx')) {
      out.push({ name: e.name.slice(0, -'.onnx'.length), file: path.join(dir, e.name), folder: null, bundled });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

const describedInProcess = new Map<string, IndexRecord>();

export interface ControlNetStoreOptions {
  /** The app's bundled ControlNets (`<appRoot>/models/controlnets`); absent or missing = none. */
  bundledDir?: string;
  readInputs: GraphInputReader;
}

export class ControlNetStore {
  readonly dir: string;
  private readonly bundledDir: string | undefined;
  private readonly readInputs: GraphInputReader;

  constructor(modelsDir: string, opts: ControlNetStoreOptions) {
    this.dir = path.join(modelsDir, CONTROLNETS_DIR);
    this.bundledDir = opts.bundledDir;
    this.readInputs = opts.readInputs;
  }

  private get indexFile(): string {
    return path.join(this.dir, '.index.json');
  }

  private async readIndex(): Promise<Record<string, IndexRecord>> {
    try {
      return JSON.parse(await readFile(this.indexFile, 'utf8')) as Record<string, IndexRecord>;
    } catch {
      return {};
    }
  }

  /** Every readable ControlNet (unreadable ones are reported in `problems`, not thrown). */
  async list(): Promise<{ controlNets: ControlNetEntry[]; problems: string[] }> {
    const user = await candidatesIn(this.dir, false);
    const taken = new Set(user.map((c) => c.name));
    const bundled = this.bundledDir ? (await candidatesIn(this.bundledDir, true)).filter((c) => !taken.has(c.name)) : [];
    const index = await this.readIndex();
    const next: Record<string, IndexRecord> = {};
    const controlNets: ControlNetEntry[] = [];
    const problems: string[] = [];
    for (const c of [...user, ...bundled]) {
      try {
        const rec = await this.describe(c, index[c.file]);
        next[c.file] = rec;
        const controlType = (c.folder ? await controlTypeFromConfig(c.folder) : null) ?? controlTypeFromText(c.name);
        controlNets.push({
          name: c.name,
          file: c.file,
          hash: rec.hash,
          baseFamily: rec.baseFamily,
          controlType,
          suggestedAnnotator: suggestedAnnotatorFor(controlType),
          sizeBytes: c.folder ? await folderBytes(c.folder) : rec.size,
          bundled: c.bundled,
        });
      } catch (err) {
        problems.push(`${c.name}: ${(err as Error).message}`);
      }
    }
    if (existsSync(this.dir) && JSON.stringify(next) !== JSON.stringify(index)) await writeFile(this.indexFile, JSON.stringify(next)).catch(() => undefined);
    return { controlNets, problems };
  }

  /** Hash and base family of one graph: from the index when its size and mtime are unchanged. */
  private async describe(c: Candidate, cached: IndexRecord | undefined): Promise<IndexRecord> {
    const st = await stat(c.file);
    const mtimeMs = Math.round(st.mtimeMs);
    const fresh = (r: IndexRecord | undefined) => r !== undefined && r.size === st.size && r.mtimeMs === mtimeMs;
    // Bundled graphs sit in a read-only app folder when no user folder exists: the process cache covers them.
    const remembered = fresh(cached) ? cached : describedInProcess.get(c.file);
    if (remembered && fresh(remembered)) return remembered;
    const inputs = this.readInputs(c.file);
    if (!inputs.some((i) => i.name === 'controlnet_cond')) throw new Error('not a ControlNet graph (it has no controlnet_cond input)');
    const rec = { size: st.size, mtimeMs, hash: await sha256File(c.file), baseFamily: baseFamilyFromInputs(inputs) };
    describedInProcess.set(c.file, rec);
    return rec;
  }

  /** A ControlNet by its name (exact, then case-insensitive), or by a hash prefix of at least 8 digits (A1111 infotext shows 8). */
  async find(nameOrHash: string): Promise<ControlNetEntry | null> {
    const { controlNets } = await this.list();
    return findControlNet(controlNets, nameOrHash);
  }
}

/** The lookup of `find`, over an already listed set (one listing serves several units). */
export function findControlNet(controlNets: readonly ControlNetEntry[], nameOrHash: string): ControlNetEntry | null {
  const key = nameOrHash.trim();
  const byName = controlNets.find((c) => c.name === key) ?? controlNets.find((c) => c.name.toLowerCase() === key.toLowerCase());
  if (byName) return byName;
  if (/^[0-9a-f]{8,64}$/i.test(key)) return controlNets.find((c) => c.hash.startsWith(key.toLowerCase())) ?? null;
  return null;
}
