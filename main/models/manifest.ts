/**
 * `atelier-model.json`: the small manifest written into every model folder Atelier installs.
 * Its presence is what makes a folder under the models directory an installed model.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ModelFamilySchema, ModelKindSchema, PrecisionSchema, ProviderSchema, type RecommendedDefaults } from './catalog';

export const MANIFEST_FILE = 'atelier-model.json';

export const ModelSourceSchema = z.enum(['download', 'import-copy', 'import-reference', 'bundled']);
export type ModelSource = z.infer<typeof ModelSourceSchema>;

export const ModelManifestSchema = z.object({
  formatVersion: z.literal(1),
  id: z.string().min(1),
  name: z.string().min(1),
  kind: ModelKindSchema,
  source: ModelSourceSchema,
  /** For `import-reference`: the absolute folder the model really lives in (read by app/model-registry). */
  path: z.string().optional(),
  /** For imports: the folder the model was imported from. */
  importedFrom: z.string().optional(),
  catalogId: z.string().optional(),
  /** Catalog models with provider builds: the one installed ('generic' = the entry's own files), and why it was chosen. */
  variant: z.string().optional(),
  variantReason: z.string().optional(),
  /** 'hub-tree': the file list (sizes, sha256) was read from the hub's listing at download. */
  filesFrom: z.enum(['catalog', 'hub-tree']).optional(),
  repo: z.string().optional(),
  revision: z.string().optional(),
  family: ModelFamilySchema.optional(),
  precision: PrecisionSchema.optional(),
  providers: z.array(ProviderSchema).optional(),
  license: z.string().optional(),
  /** Same shape as the API's ModelSummary.defaults (guidanceScale, not cfg). */
  defaults: z
    .object({
      steps: z.number().optional(),
      guidanceScale: z.number().optional(),
      scheduler: z.string().optional(),
      width: z.number().optional(),
      height: z.number().optional(),
    })
    .optional(),
  description: z.string().optional(),
  files: z.array(z.object({ path: z.string(), size: z.number().int().nonnegative(), sha256: z.string().optional() })).optional(),
  sizeBytes: z.number().int().nonnegative().optional(),
  installedAt: z.string(),
});
export type ModelManifest = z.infer<typeof ModelManifestSchema>;

export async function readManifest(folder: string): Promise<ModelManifest | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(folder, MANIFEST_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const parsed = ModelManifestSchema.safeParse(safeJson(text));
  return parsed.success ? parsed.data : undefined;
}

/** Write via temp + rename so a crash never leaves a truncated manifest. */
export async function writeManifest(folder: string, manifest: ModelManifest): Promise<void> {
  const target = path.join(folder, MANIFEST_FILE);
  const tmp = `${target}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(ModelManifestSchema.parse(manifest), null, 2) + '\n');
  await rename(tmp, target);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A folder-name-safe id derived from free text (`owner/Name v2` → `owner-name-v2`). */
export function slugifyModelId(text: string): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 80);
  return s || 'model';
}

/** Ids become folder names: refuse anything that could escape the models folder. */
/** A model id a caller chose that cannot be a folder name: the caller's mistake (API: invalid_request). */
export class InvalidModelIdError extends Error {
  override name = 'InvalidModelIdError';
}

export function assertSafeModelId(id: string): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(id) || id.includes('..')) {
    throw new InvalidModelIdError(`invalid model id "${id}": use lowercase letters, digits, ".", "_" and "-"`);
  }
}

/**
 * The catalog spells schedulers the short way people say them; requests and the engine take the
 * diffusers class name (with "+karras" for Karras sigmas, see common/api/scheduler-names.ts).
 */
export const CATALOG_SCHEDULER_CLASS: Readonly<Record<RecommendedDefaults['scheduler'], string>> = Object.freeze({
  euler: 'EulerDiscreteScheduler',
  'euler-a': 'EulerAncestralDiscreteScheduler',
  ddim: 'DDIMScheduler',
  'dpmpp-2m': 'DPMSolverMultistepScheduler',
  'dpmpp-2m-karras': 'DPMSolverMultistepScheduler+karras',
  lcm: 'LCMScheduler',
  pndm: 'PNDMScheduler',
});

/** Catalog defaults (cfg, short scheduler names) → manifest/API defaults (guidanceScale, class names). */
export function manifestDefaults(d: RecommendedDefaults | undefined): ModelManifest['defaults'] {
  return d
    ? { steps: d.steps, guidanceScale: d.cfg, scheduler: CATALOG_SCHEDULER_CLASS[d.scheduler], width: d.width, height: d.height }
    : undefined;
}
