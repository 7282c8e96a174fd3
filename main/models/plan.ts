/**
 * Turning "what the user asked for" into a DownloadRequest, before any large byte moves:
 * - a catalog entry: its file list, refined with the hub's live listing (exact sizes and LFS
 *   sha256, external-data files the catalog missed);
 * - any hub repo id or URL: its listing, filtered to the diffusers-ONNX files, checked to form a
 *   loadable pipeline (model_index.json is fetched to tell SD from SDXL).
 */
import type { CatalogEntry } from './catalog';
import type { DownloadFileSpec, DownloadRequest } from './downloader';
import { HubError, parseRepoRef, type HubClient, type RepoFile } from './hub-client';
import { checkPipelineFiles, selectPipelineFiles } from './layout';
import { manifestDefaults, slugifyModelId } from './manifest';

export interface PullPlan {
  request: DownloadRequest;
  /** Human label, e.g. `SD-Turbo (TensorStack/SD-Turbo-onnx@main)`. */
  label: string;
  /** Non-fatal findings (catalog drift, listing unavailable). */
  warnings: string[];
  /** What the user should know about where the files come from (a 'hub-tree' entry's listing). */
  notes?: string[];
  /** Catalog entries with variants: the build chosen and why (`pickVariant`). */
  variant?: { id: string; reason: string };
}

export class PlanError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
    this.name = 'PlanError';
  }
}

const EXTERNAL_DATA = ['model.onnx_data', 'model.onnx.data', 'weights.pb'];

export async function planCatalogPull(entry: CatalogEntry, hub: HubClient, options: { revision?: string; id?: string; signal?: AbortSignal } = {}): Promise<PullPlan> {
  if (entry.bundled || !entry.repo) throw new PlanError(`${entry.name} ships with Atelier; there is nothing to download`);
  if (entry.filesFrom === 'hub-tree') return planHubTreePull(entry, entry.repo, hub, options);
  const revision = options.revision ?? entry.revision;
  const warnings: string[] = [];
  let listing: RepoFile[] | undefined;
  try {
    listing = await hub.listRepoFiles(entry.repo, revision, options.signal);
  } catch (err) {
    // Offline: nothing could be downloaded anyway; say so now instead of after the file transfers fail.
    if (err instanceof HubError && (err.code === 'gated' || err.code === 'not-found' || err.code === 'offline')) throw err;
    warnings.push(`could not list ${entry.repo}@${revision} (${(err as Error).message}); using the catalog's file list and sizes`);
  }
  const savedAs = (f: { saveAs?: string }) => (f.saveAs ? { saveAs: f.saveAs } : {});
  let files: DownloadFileSpec[] = entry.files.map((f) => ({ path: f.path, ...(f.sizeApprox ? { sizeHint: f.size } : { size: f.size }), ...(f.sha256 ? { sha256: f.sha256 } : {}), ...savedAs(f) }));
  if (listing) {
    const byPath = new Map(listing.map((f) => [f.path, f]));
    const missing = entry.files.filter((f) => !byPath.has(f.path)).map((f) => f.path);
    if (missing.length > 0) {
      throw new PlanError(`the catalog entry "${entry.id}" is out of date: ${missing.join(', ')} no longer exist in ${entry.repo}@${revision}`, missing);
    }
    files = entry.files.map((f) => {
      const live = byPath.get(f.path)!;
      if (f.sha256 && live.sha256 && f.sha256 !== live.sha256) warnings.push(`${f.path} changed upstream since the catalog was written; verifying against the hub's current sha256`);
      else if (!f.sizeApprox && f.size !== live.size) warnings.push(`${f.path} is ${live.size} bytes upstream, the catalog says ${f.size}`);
      return { path: f.path, size: live.size, ...(live.sha256 ?? f.sha256 ? { sha256: (live.sha256 ?? f.sha256)! } : {}), ...savedAs(f) };
    });
    // External weights are named inside each graph; a graph without its data file cannot load.
    for (const graph of entry.files.filter((f) => f.path.endsWith('/model.onnx'))) {
      const dir = graph.path.slice(0, -'model.onnx'.length);
      for (const name of EXTERNAL_DATA) {
        const live = byPath.get(dir + name);
        if (live && !files.some((f) => f.path === live.path)) {
          // The data file must stay beside its graph, wherever the graph is saved.
          const saveAs = graph.saveAs ? { saveAs: graph.saveAs.slice(0, -'model.onnx'.length) + name } : {};
          files.push({ path: live.path, size: live.size, ...(live.sha256 ? { sha256: live.sha256 } : {}), ...saveAs });
          warnings.push(`added ${live.path}, external weights missing from the catalog entry`);
        }
      }
    }
  }
  return catalogPlan(entry, entry.repo, revision, files, warnings, options.id);
}

function catalogPlan(entry: CatalogEntry, repo: string, revision: string, files: DownloadFileSpec[], warnings: string[], id?: string): PullPlan {
  return {
    label: `${entry.name} (${repo}@${revision})`,
    warnings,
    request: {
      id: id ?? entry.id,
      repo,
      revision,
      kind: entry.kind,
      files,
      ...(entry.installTo ? { installTo: entry.installTo } : {}),
      manifest: {
        name: entry.name,
        catalogId: entry.id,
        family: entry.family,
        precision: entry.precision,
        providers: entry.providers,
        license: entry.license,
        description: entry.description,
        ...(entry.defaults ? { defaults: manifestDefaults(entry.defaults) } : {}),
      },
    },
  };
}

/**
 * A catalog entry that names only its repo and layout (`filesFrom: 'hub-tree'`): the hub's tree
 * listing is the file list. Exactly the layout's files that exist are pulled, each with the size and
 * LFS sha256 the listing gives (the downloader refuses bytes that disagree); a layout that is not
 * complete (no UNet graph, an SDXL entry without its second text encoder…) stops the pull here,
 * before anything is downloaded, naming what is missing.
 */
async function planHubTreePull(entry: CatalogEntry, repo: string, hub: HubClient, options: { revision?: string; id?: string; signal?: AbortSignal }): Promise<PullPlan> {
  const revision = options.revision ?? entry.revision;
  let listing: RepoFile[];
  try {
    listing = await hub.listRepoFiles(repo, revision, options.signal);
  } catch (err) {
    if (err instanceof HubError && (err.code === 'gated' || err.code === 'not-found' || err.code === 'offline')) throw err;
    if (err instanceof HubError) {
      throw new HubError(`${entry.name} takes its file list from the hub, and ${repo}@${revision} could not be listed: ${err.message}`, err.code, err.url, err.status, { cause: err });
    }
    throw err;
  }
  const files = selectPipelineFiles(listing);
  // An SDXL entry needs SDXL's parts whatever the repo's model_index.json says (or when it cannot be read).
  const read = await readModelIndex(hub, repo, revision, files, options.signal);
  const modelIndex = entry.family === 'sdxl' ? { ...read, text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'] } : read;
  const report = checkPipelineFiles(
    files.map((f) => f.path),
    modelIndex,
  );
  if (!report.ok) {
    throw new PlanError(
      `${entry.name}: ${repo}@${revision} does not have the ${entry.layout ?? 'diffusers-onnx'} layout its catalog entry declares, so nothing was downloaded:\n  - ${report.problems.join('\n  - ')}`,
      report.problems,
    );
  }
  const specs = files.map((f) => ({ path: f.path, size: f.size, ...(f.sha256 ? { sha256: f.sha256 } : {}) }));
  const bytes = specs.reduce((n, f) => n + f.size, 0);
  const plan = catalogPlan(entry, repo, revision, specs, [], options.id);
  plan.notes = [`file list read from the hub: ${specs.length} files of ${repo}@${revision}, ${bytes} bytes, each verified against the listing's size and sha256`];
  return plan;
}

/** model_index.json of a hub repo (to tell SD from SDXL), or undefined when it is absent or unreadable. */
async function readModelIndex(hub: HubClient, repo: string, revision: string, files: { path: string }[], signal?: AbortSignal): Promise<Record<string, unknown> | undefined> {
  if (!files.some((f) => f.path === 'model_index.json')) return undefined;
  try {
    const opened = await hub.openFile(repo, revision, 'model_index.json', { signal });
    const chunks: Uint8Array[] = [];
    for await (const c of opened.body) chunks.push(c);
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Plan a pull of any hub repo (`owner/name` or a hub URL), refusing repos that are not a loadable pipeline. */
export async function planRepoPull(refOrUrl: string, hub: HubClient, options: { revision?: string; id?: string; signal?: AbortSignal } = {}): Promise<PullPlan> {
  const ref = parseRepoRef(refOrUrl);
  if (!ref) throw new PlanError(`"${refOrUrl}" is not a hub repo (owner/name) or hub URL (https://huggingface.co/owner/name)`);
  const revision = options.revision ?? ref.revision ?? 'main';
  const listing = await hub.listRepoFiles(ref.repo, revision, options.signal);
  const files = selectPipelineFiles(listing);
  const modelIndex = await readModelIndex(hub, ref.repo, revision, files, options.signal);
  const report = checkPipelineFiles(
    files.map((f) => f.path),
    modelIndex,
  );
  if (!report.ok) {
    const nonDiffusers = listing.some((f) => f.path.endsWith('.onnx')) ? ' (ONNX files exist, but not in the diffusers folder layout)' : '';
    throw new PlanError(`${ref.repo}@${revision} is not a diffusers-ONNX model Atelier can load${nonDiffusers}:\n  - ${report.problems.join('\n  - ')}`, report.problems);
  }
  return {
    label: `${ref.repo}@${revision}`,
    warnings: [],
    request: {
      id: options.id ?? slugifyModelId(ref.repo.split('/')[1]),
      repo: ref.repo,
      revision,
      kind: 'pipeline',
      files: files.map((f) => ({ path: f.path, size: f.size, ...(f.sha256 ? { sha256: f.sha256 } : {}) })),
      manifest: { name: ref.repo },
    },
  };
}
