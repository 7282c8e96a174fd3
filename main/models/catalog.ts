/**
 * The curated model catalog (`models/catalog.json`): public diffusers-ONNX models known to
 * load with our engine, with exact file lists so a download can be planned, sized and
 * verified before the first byte arrives.
 *
 * The zod schema here is the source of truth; `models/catalog.schema.json` is generated from
 * it (`catalogJsonSchema()`), and a test keeps the two in sync.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { appRoot } from '../platform/paths';
import { CATALOG_FAMILIES, CATALOG_KINDS } from '../../common/model-families';
import { PROVIDER_NAMES, type ExecutionProviderName } from '../../common/providers';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits');

/** A relative POSIX path inside the model folder; no `..`, no absolute paths. */
export const RelativePathSchema = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.includes('\\') && !p.split('/').some((s) => s === '' || s === '.' || s === '..'), {
    message: 'must be a relative path with "/" separators and no "." or ".." segments',
  });

export const CatalogFileSchema = z
  .object({
    path: RelativePathSchema,
    /** Size in bytes. Exact unless `sizeApprox` is true (then it is the hub's rounded figure). */
    size: z.number().int().nonnegative(),
    sizeApprox: z.boolean().optional(),
    /** LFS sha256 as published by the hub. Absent when not known: never invented. */
    sha256: sha256Hex.optional(),
    /** Where the file goes inside the installed folder when not at `path` (e.g. the hub's `onnx/model.onnx` → `model.onnx`). */
    saveAs: RelativePathSchema.optional(),
  })
  .strict();

export const ModelKindSchema = z.enum(CATALOG_KINDS);

/**
 * A ControlNet-capable UNet (`controlnet-unet`) is not a model of its own: it installs into the folder
 * of the installed base model it was exported from, as `<base>/controlnet/` (the Amuse/OnnxStack and
 * axodox layout the engine reads, engine/controlnet/sessions.ts CONTROL_UNET_DIR).
 */
export const CONTROL_UNET_FOLDER = 'controlnet';

/**
 * Kinds that install into a shared folder of the models folder instead of `<modelsDir>/<id>/`: the
 * engine finds annotators in `annotators/<kind>/` and ControlNets in `controlnets/<name>/`.
 */
export const INSTALL_ROOTS: Readonly<Partial<Record<z.infer<typeof ModelKindSchema>, string>>> = Object.freeze({ annotator: 'annotators', controlnet: 'controlnets' });
export const ModelFamilySchema = z.enum(CATALOG_FAMILIES);
export const PrecisionSchema = z.enum(['fp32', 'fp16', 'mixed']);
export const ProviderSchema = z.enum(PROVIDER_NAMES as readonly [ExecutionProviderName, ...ExecutionProviderName[]]);
export const SchedulerNameSchema = z.enum(['euler', 'euler-a', 'ddim', 'dpmpp-2m', 'dpmpp-2m-karras', 'lcm', 'pndm']);

export const RecommendedDefaultsSchema = z
  .object({
    steps: z.number().int().positive(),
    cfg: z.number().nonnegative(),
    scheduler: SchedulerNameSchema,
    width: z.number().int().positive().multipleOf(8),
    height: z.number().int().positive().multipleOf(8),
  })
  .strict();

const RepoIdSchema = z.string().regex(/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/, 'repo must be "owner/name"');
const EstimatesSchema = z
  .object({
    diskBytes: z.number().int().nonnegative(),
    /** Rough peak RAM/VRAM for one 1-image generation at the default size. */
    memoryBytes: z.number().int().nonnegative(),
  })
  .strict();

/** The name a pull reports when it takes the entry's own files (no variant fits the provider). */
export const GENERIC_VARIANT = 'generic';

/**
 * Another build of the same model for particular execution providers (an fp16 graph with CUDA
 * fusions, an Olive DirectML export, a WebGPU-safe fp16 export…). The entry's own files are the
 * generic build every other provider falls back to.
 */
export const CatalogVariantSchema = z
  .object({
    /** e.g. `cuda-fp16-optimized`, `dml-fp16-olive`, `webgpu-fp16`. */
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]*$/, 'variant id: lowercase letters, digits, ".", "_" and "-"')
      .refine((v) => v !== GENERIC_VARIANT, { message: `"${GENERIC_VARIANT}" names the entry's own files` }),
    repo: RepoIdSchema,
    revision: z.string().min(1),
    precision: PrecisionSchema,
    /** Providers this build is for: a pull for one of them takes this variant (first match wins). */
    providers: z.array(ProviderSchema).min(1),
    files: z.array(CatalogFileSchema).min(1),
    estimates: EstimatesSchema.optional(),
    /** Where the file list comes from, and what differs from the generic build. */
    notes: z.string().min(1),
  })
  .strict();

export const CatalogEntrySchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'id: lowercase letters, digits, ".", "_" and "-"'),
    name: z.string().min(1),
    kind: ModelKindSchema,
    /** Hugging Face repo id (`owner/name`). Absent only for bundled models. */
    repo: RepoIdSchema.optional(),
    revision: z.string().min(1),
    /** Shipped with the app (files under `models/<id>/`), never downloaded. */
    bundled: z.boolean().optional(),
    family: ModelFamilySchema,
    precision: PrecisionSchema,
    /** Execution providers the graphs are known to run on. Olive/ORT-optimised graphs are often CUDA- or DML-only. */
    providers: z.array(ProviderSchema).min(1),
    license: z.string().min(1),
    description: z.string().min(1),
    /** Defaults for pipelines; absent for auxiliary models (VAE decoders, upscalers). */
    defaults: RecommendedDefaultsSchema.optional(),
    estimates: EstimatesSchema,
    files: z.array(CatalogFileSchema),
    notes: z.string().optional(),
    /** Provider-specific builds; the entry's own files are the generic one (see `pickVariant`). */
    variants: z.array(CatalogVariantSchema).optional(),
    /**
     * Where the file list comes from. 'catalog' (default): `files` above. 'hub-tree': the entry names
     * only its repo, revision and `layout`; at pull time the hub's tree listing supplies the files of
     * that layout which exist, with their sizes and LFS sha256, and the download is verified against it.
     */
    filesFrom: z.enum(['catalog', 'hub-tree']).optional(),
    /** The folder layout a 'hub-tree' entry follows (the diffusers-ONNX pipeline layout: model_index.json, unet/model.onnx…). */
    layout: z.enum(['diffusers-onnx']).optional(),
    /**
     * Annotators and ControlNets: the folder under the models folder the files install into
     * (`annotators/depth`, `controlnets/canny-sd15`), where the engine looks for them.
     */
    installTo: RelativePathSchema.optional(),
    /**
     * `controlnet-unet` entries: the catalog id of the pipeline whose ControlNet-capable UNet this is
     * (same base weights); the pull installs into that model's folder, which must be installed first.
     */
    forModel: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'forModel: a catalog id').optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (!e.bundled && !e.repo) ctx.addIssue({ code: 'custom', path: ['repo'], message: 'non-bundled entries need a repo' });
    const fromHub = e.filesFrom === 'hub-tree';
    if (!e.bundled && !fromHub && e.files.length === 0) ctx.addIssue({ code: 'custom', path: ['files'], message: 'non-bundled entries need files (or filesFrom: "hub-tree")' });
    if (fromHub) {
      if (e.files.length > 0) ctx.addIssue({ code: 'custom', path: ['files'], message: 'a "hub-tree" entry lists no files: they are read from the hub at pull time' });
      if (!e.layout) ctx.addIssue({ code: 'custom', path: ['layout'], message: 'a "hub-tree" entry names the layout its repo follows ("diffusers-onnx")' });
      if (e.kind !== 'pipeline') ctx.addIssue({ code: 'custom', path: ['kind'], message: 'only pipelines can take their files from the hub tree' });
      if (e.bundled) ctx.addIssue({ code: 'custom', path: ['bundled'], message: 'bundled models are never downloaded' });
    } else if (e.layout) ctx.addIssue({ code: 'custom', path: ['layout'], message: 'layout applies to filesFrom: "hub-tree" entries' });
    const root = INSTALL_ROOTS[e.kind];
    if (root && !(e.installTo && e.installTo.split('/').length === 2 && e.installTo.startsWith(`${root}/`))) {
      ctx.addIssue({ code: 'custom', path: ['installTo'], message: `a ${e.kind} entry installs into ${root}/<name> (installTo)` });
    } else if (!root && e.installTo) ctx.addIssue({ code: 'custom', path: ['installTo'], message: 'installTo applies to annotator and controlnet entries' });
    const controlUnet = e.kind === 'controlnet-unet';
    if (controlUnet !== (e.forModel !== undefined)) ctx.addIssue({ code: 'custom', path: ['forModel'], message: controlUnet ? 'a controlnet-unet entry names the pipeline it installs into (forModel)' : 'forModel applies to controlnet-unet entries' });
    if (controlUnet && !e.files.some((f) => (f.saveAs ?? f.path) === 'model.onnx')) {
      ctx.addIssue({ code: 'custom', path: ['files'], message: 'a controlnet-unet entry saves its graph as model.onnx (saveAs)' });
    }
    if (!root && !controlUnet && e.files.some((f) => f.saveAs)) ctx.addIssue({ code: 'custom', path: ['files'], message: 'saveAs applies to annotator, controlnet and controlnet-unet entries' });
    if (e.kind === 'pipeline' && !e.defaults) ctx.addIssue({ code: 'custom', path: ['defaults'], message: 'pipelines need recommended defaults' });
    if (e.kind === 'pipeline' && e.files.length > 0 && !e.files.some((f) => f.path === 'model_index.json')) {
      ctx.addIssue({ code: 'custom', path: ['files'], message: 'pipelines must include model_index.json' });
    }
    const seen = new Set<string>();
    const saved = new Set<string>();
    for (const f of e.files) {
      if (seen.has(f.path)) ctx.addIssue({ code: 'custom', path: ['files'], message: `duplicate file ${f.path}` });
      seen.add(f.path);
      const to = f.saveAs ?? f.path;
      if (saved.has(to)) ctx.addIssue({ code: 'custom', path: ['files'], message: `two files would be saved as ${to}` });
      saved.add(to);
    }
    const variantIds = new Set<string>();
    (e.variants ?? []).forEach((v, i) => {
      if (variantIds.has(v.id)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'id'], message: `duplicate variant ${v.id}` });
      variantIds.add(v.id);
      if (e.kind === 'pipeline' && !v.files.some((f) => f.path === 'model_index.json')) {
        ctx.addIssue({ code: 'custom', path: ['variants', i, 'files'], message: 'pipeline variants must include model_index.json' });
      }
      const paths = new Set<string>();
      for (const f of v.files) {
        if (paths.has(f.path)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'files'], message: `duplicate file ${f.path}` });
        paths.add(f.path);
      }
    });
  });

export const CatalogSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    models: z.array(CatalogEntrySchema),
  })
  .strict()
  .superRefine((c, ctx) => {
    const ids = new Set<string>();
    for (const m of c.models) {
      if (ids.has(m.id)) ctx.addIssue({ code: 'custom', path: ['models'], message: `duplicate id ${m.id}` });
      ids.add(m.id);
    }
    // A ControlNet UNet only fits the base it was exported from: the base must be a pipeline of its family here.
    c.models.forEach((m, i) => {
      if (!m.forModel) return;
      const base = c.models.find((b) => b.id === m.forModel);
      if (!base || base.kind !== 'pipeline') ctx.addIssue({ code: 'custom', path: ['models', i, 'forModel'], message: `${m.id}: forModel "${m.forModel}" is not a pipeline of this catalog` });
      else if (base.family !== m.family) ctx.addIssue({ code: 'custom', path: ['models', i, 'family'], message: `${m.id} is ${m.family} but its base ${base.id} is ${base.family}` });
    });
  });

export type CatalogFile = z.infer<typeof CatalogFileSchema>;
export type CatalogVariant = z.infer<typeof CatalogVariantSchema>;
export type CatalogEntry = z.infer<typeof CatalogEntrySchema>;
export type Catalog = z.infer<typeof CatalogSchema>;
export type ModelKind = z.infer<typeof ModelKindSchema>;
/** A catalog entry's family (latent space and kind) — not the engine's pipeline family. */
export type CatalogFamily = z.infer<typeof ModelFamilySchema>;
export type { ExecutionProviderName };
export type RecommendedDefaults = z.infer<typeof RecommendedDefaultsSchema>;

/** Path of the shipped catalog: `<app root>/models/catalog.json` (works from source, dist/ and Electron). */
export function defaultCatalogPath(): string {
  return path.join(appRoot(), 'models', 'catalog.json');
}

export class CatalogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CatalogError';
  }
}

/** Validate parsed JSON; throws a CatalogError listing every problem with its JSON path. */
export function parseCatalog(json: unknown, source = 'catalog'): Catalog {
  const result = CatalogSchema.safeParse(json);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new CatalogError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Read and validate a catalog file (default: the shipped `models/catalog.json`). */
export async function loadCatalog(file: string = defaultCatalogPath()): Promise<Catalog> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CatalogError(`cannot read model catalog ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CatalogError(`model catalog ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseCatalog(json, file);
}

/** Find an entry by catalog id, or by `owner/name` repo id (case-insensitive). */
export function findCatalogEntry(catalog: Catalog, idOrRepo: string): CatalogEntry | undefined {
  const key = idOrRepo.toLowerCase();
  return catalog.models.find((m) => m.id === key) ?? catalog.models.find((m) => m.repo?.toLowerCase() === key);
}

export interface PickedVariant {
  /** The variant's id, or GENERIC_VARIANT for the entry's own files. */
  variant: string;
  /** The entry as a pull should use it: the chosen build's repo, revision, precision, providers, files. */
  entry: CatalogEntry;
  /** One line for the user: which build, and why. */
  reason: string;
}

/**
 * The build of a catalog model that fits `provider`: the first variant made for it, else the
 * entry's own (generic) files. `variantId` forces one ('generic' = the entry's own files).
 */
export function pickVariant(entry: CatalogEntry, provider: ExecutionProviderName, variantId?: string): PickedVariant {
  const variants = entry.variants ?? [];
  const generic = (reason: string): PickedVariant => ({ variant: GENERIC_VARIANT, entry: { ...entry, variants: undefined }, reason });
  let chosen: CatalogVariant | undefined;
  if (variantId !== undefined && variantId !== 'auto') {
    if (variantId === GENERIC_VARIANT) return generic(`${GENERIC_VARIANT} (${entry.precision}, for ${entry.providers.join(', ')}): asked for`);
    chosen = variants.find((v) => v.id === variantId);
    if (!chosen) throw new CatalogError(`${entry.id} has no variant "${variantId}" (variants: ${[GENERIC_VARIANT, ...variants.map((v) => v.id)].join(', ')})`);
  } else {
    chosen = variants.find((v) => v.providers.includes(provider));
  }
  if (!chosen) {
    return generic(
      entry.providers.includes(provider)
        ? `${GENERIC_VARIANT} (${entry.precision}): no build made for ${provider}; the generic files run on it`
        : `${GENERIC_VARIANT} (${entry.precision}, for ${entry.providers.join(', ')}): no build for ${provider}; expect the CPU`,
    );
  }
  return {
    variant: chosen.id,
    entry: {
      ...entry,
      repo: chosen.repo,
      revision: chosen.revision,
      precision: chosen.precision,
      providers: chosen.providers,
      files: chosen.files,
      // A variant lists its own files: it never inherits the entry's hub-tree file source.
      filesFrom: undefined,
      layout: undefined,
      estimates: chosen.estimates ?? entry.estimates,
      notes: chosen.notes,
      variants: undefined,
    },
    reason: `${chosen.id} (${chosen.precision}, ${chosen.repo}): ${variantId && variantId !== 'auto' ? 'asked for' : `built for ${provider}`}`,
  };
}

/** Total download size of an entry's files (bytes; approximate if any file is). A 'hub-tree' entry: its disk estimate until the hub lists the files. */
export function entryDownloadBytes(entry: Pick<CatalogEntry, 'files'> & Partial<Pick<CatalogEntry, 'filesFrom' | 'estimates'>>): number {
  if (entry.filesFrom === 'hub-tree') return entry.estimates?.diskBytes ?? 0;
  return entry.files.reduce((n, f) => n + f.size, 0);
}

/** The builds of an entry a pull can choose from: 'generic' (its own files) first, then its variants. */
export function variantChoices(entry: CatalogEntry): { id: string; precision: string; providers: string[]; repo?: string }[] {
  if (!entry.variants?.length) return [];
  return [
    { id: GENERIC_VARIANT, precision: entry.precision, providers: entry.providers, ...(entry.repo ? { repo: entry.repo } : {}) },
    ...entry.variants.map((v) => ({ id: v.id, precision: v.precision, providers: v.providers, repo: v.repo })),
  ];
}

/** JSON Schema (draft 2020-12) generated from the zod schema; written to models/catalog.schema.json. */
export function catalogJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(CatalogSchema, { target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://atelier.local/schemas/model-catalog.json',
    title: 'Atelier model catalog',
    description: 'Curated diffusers-ONNX models. Generated from main/models/catalog.ts (catalogJsonSchema); do not edit by hand.',
  };
}
