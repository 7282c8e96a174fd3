/**
 * `atelier models list | pull | import | remove | doctor`. The top-level CLI dispatches here with
 * the app's models folder, catalog, engine validator and the engine's model doctor.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { formatDoctorReport, type ModelDoctorReport } from '../../common/model-doctor';
import { defaultCatalogPath, entryDownloadBytes, findCatalogEntry, loadCatalog, pickVariant, type Catalog, type CatalogEntry } from './catalog';
import { isExecutionProviderName } from '../../common/providers';
import { DownloadError, ModelDownloader, formatBytes, type DownloadProgress } from './downloader';
import { HubClient, parseRepoRef } from './hub-client';
import { planCatalogPull, planRepoPull } from './plan';
import { removeSharedInstall, sharedInstallEntry, sharedInstallTarget } from './shared-installs';
import { ModelStore, ModelStoreError, type InstalledModel } from './model-store';

export interface ModelsCliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  isTTY: boolean;
}

export interface ModelsCliContext {
  modelsDir: string;
  catalogPath?: string;
  endpoint?: string;
  token?: string;
  validate?: (folder: string) => Promise<void>;
  /** Bundled demo model folder; default `<catalog folder>/demo`. */
  demoModelDir?: string;
  /** Test hooks / tuning. */
  concurrency?: number;
  freeBytes?: (dir: string) => Promise<number>;
  retryBaseMs?: number;
  /** Aborts a running pull like Ctrl-C (partial files kept). Default: SIGINT. */
  signal?: AbortSignal;
  /** The provider this machine will run models on (picks a catalog entry's variant); default 'cpu'. */
  provider?: () => string | Promise<string>;
  /** The engine's model doctor (main/engine `doctorModel`), injected: this floor cannot import the engine. */
  doctor?: (target: string, opts: { provider?: string; width?: number; height?: number; batch?: number; target: string }) => ModelDoctorReport | Promise<ModelDoctorReport>;
}

export const MODELS_USAGE = `Usage:
  atelier models list [--json]                       installed models, then the catalog
  atelier models pull <id|owner/repo|url> [options]  download (resumes an interrupted pull)
      --revision REV    hub revision (branch, tag or commit; default: catalog's, else main)
      --id ID           folder/id to install as (repos only; default from the repo name)
      --endpoint URL    hub endpoint or mirror (default https://huggingface.co, or HF_ENDPOINT)
      --token TOKEN     access token for gated repos (or HF_TOKEN)
      --variant V       catalog models: a build for a provider (default: the one for --provider, else generic)
      --provider P      catalog models: pick the variant for this provider (default: the one this machine uses)
      --json            machine-readable progress (one JSON object per line)
  atelier models import <folder> [--copy] [--id ID] [--name NAME] [--json]
                                                     add a diffusers-ONNX folder by reference (default) or by copy
  atelier models remove <id>                         remove a model (or discard a partial download)
  atelier models doctor <id|folder|file.onnx> [options]
                                                     check a model for a provider without loading it: precision,
                                                     external data, shapes, ops the provider cannot run, memory, verdict
      --provider P      auto (default: this machine's first), cuda, dml, coreml, webgpu or cpu
      --size WxH        size for the memory estimate (default: the model's recommended size, else 512x512)
      --batch N         images per generation (default 1)
      --json            the full report as JSON`;

export async function runModelsCommand(args: string[], io: ModelsCliIo, ctx: ModelsCliContext): Promise<number> {
  const [sub, ...rest] = args;
  const out = (s: string) => io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  const err = (s: string) => io.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
  try {
    switch (sub) {
      case 'list':
      case 'ls':
        return await listCommand(rest, ctx, out, err);
      case 'pull':
      case 'download':
        return await pullCommand(rest, io, ctx, out, err);
      case 'import':
        return await importCommand(rest, ctx, out);
      case 'remove':
      case 'rm':
        return await removeCommand(rest, ctx, out);
      case 'doctor':
      case 'check':
        return await doctorCommand(rest, ctx, out, err);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(MODELS_USAGE);
        return sub === undefined ? 2 : 0;
      default:
        err(`unknown models command "${sub}"\n\n${MODELS_USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message}\n\n${MODELS_USAGE}`);
      return 2;
    }
    err(`error: ${(e as Error).message}`);
    return 1;
  }
}

class UsageError extends Error {}

function parse<T extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function storeFor(ctx: ModelsCliContext): ModelStore {
  const catalogPath = ctx.catalogPath ?? defaultCatalogPath();
  // The demo ships next to the catalog (models/demo); listed as "missing" if it is not there.
  const demo = ctx.demoModelDir ?? path.join(path.dirname(catalogPath), 'demo');
  return new ModelStore({ modelsDir: ctx.modelsDir, demoModelDir: demo, validate: ctx.validate, freeBytes: ctx.freeBytes });
}

async function tryLoadCatalog(ctx: ModelsCliContext, err: (s: string) => void): Promise<Catalog | undefined> {
  try {
    return await loadCatalog(ctx.catalogPath ?? defaultCatalogPath());
  } catch (e) {
    err(`warning: ${(e as Error).message}`);
    return undefined;
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

async function listCommand(args: string[], ctx: ModelsCliContext, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const store = storeFor(ctx);
  const installed = await store.list();
  const catalog = await tryLoadCatalog(ctx, err);
  const installedIds = new Set(installed.map((m) => m.catalogId ?? m.id));
  const available = (catalog?.models ?? []).filter((m) => !m.bundled && !installedIds.has(m.id));
  if (values.json) {
    out(JSON.stringify({ modelsDir: store.modelsDir, installed, available: available.map(catalogSummary) }, null, 2));
    return 0;
  }
  out(`Models folder: ${store.modelsDir}\n`);
  out('Installed:');
  if (installed.length === 0) out('  (none)');
  else out(indent(table([['ID', 'NAME', 'SIZE', 'SOURCE', 'STATUS'], ...installed.map(installedRow)])));
  if (available.length > 0) {
    out('\nAvailable to pull (atelier models pull <id>):');
    out(
      indent(
        table([
          ['ID', 'NAME', 'DOWNLOAD', 'MEMORY', 'RUNS ON'],
          ...available.map((m) => [m.id, m.name, `${approx(m)}${formatBytes(entryDownloadBytes(m))}`, `~${formatBytes(m.estimates.memoryBytes)}`, m.providers.join(',')]),
        ]),
      ),
    );
  }
  return 0;
}

function approx(m: CatalogEntry): string {
  // A 'hub-tree' entry's size is its estimate until the hub lists the files.
  return m.filesFrom === 'hub-tree' || m.files.some((f) => f.sizeApprox) ? '~' : '';
}

function installedRow(m: InstalledModel): string[] {
  return [m.id, m.name, formatBytes(m.sizeBytes), m.source === 'import-reference' ? `reference → ${m.path}` : m.source, m.status];
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function catalogSummary(m: CatalogEntry) {
  return {
    id: m.id,
    name: m.name,
    kind: m.kind,
    repo: m.repo,
    family: m.family,
    precision: m.precision,
    providers: m.providers,
    downloadBytes: entryDownloadBytes(m),
    estimates: m.estimates,
    description: m.description,
  };
}

async function pullCommand(args: string[], io: ModelsCliIo, ctx: ModelsCliContext, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const { values, positionals } = parse(args, {
    revision: { type: 'string' },
    id: { type: 'string' },
    endpoint: { type: 'string' },
    token: { type: 'string' },
    variant: { type: 'string' },
    provider: { type: 'string' },
    json: { type: 'boolean' },
  });
  const what = positionals[0];
  if (!what || positionals.length > 1) throw new UsageError('pull takes exactly one model id, repo or URL');
  const json = Boolean(values.json);
  const hub = new HubClient({ endpoint: values.endpoint ?? ctx.endpoint, token: values.token ?? ctx.token });
  const catalog = await tryLoadCatalog(ctx, err);
  const found = catalog ? findCatalogEntry(catalog, what) : undefined;
  let entry = found;
  if (found && !found.bundled && (found.variants?.length || values.variant)) {
    // A provider-specific build when the catalog has one for the provider models will run on.
    const provider = values.provider ?? (ctx.provider ? await ctx.provider() : 'cpu');
    if (!isExecutionProviderName(provider)) throw new UsageError(`unknown provider "${provider}"`);
    const picked = pickVariant(found, provider, values.variant);
    entry = picked.entry;
    if (json) out(JSON.stringify({ event: 'variant', id: found.id, variant: picked.variant, provider, reason: picked.reason }));
    else err(`Variant: ${picked.reason}`);
  }
  if (entry?.bundled) {
    out(`${entry.name} ships with Atelier; there is nothing to download.`);
    return 0;
  }
  if (!entry && !parseRepoRef(what)) throw new UsageError(`"${what}" is neither a catalog id nor a hub repo (owner/name or https://huggingface.co/owner/name)`);
  const opts = { revision: values.revision, id: values.id };
  // A ControlNet UNet goes into its (installed) base model's folder: found before anything is downloaded.
  const into = entry?.kind === 'controlnet-unet' ? sharedInstallTarget(entry, ctx.modelsDir, await storeFor(ctx).list()) : undefined;
  const plan = entry ? await planCatalogPull(entry, hub, opts) : await planRepoPull(what, hub, opts);
  if (into) plan.request.installTo = into;
  const { request, label } = plan;
  for (const w of plan.warnings) err(`warning: ${w}`);
  for (const n of plan.notes ?? []) err(n);
  const downloader = new ModelDownloader({
    modelsDir: ctx.modelsDir,
    hub,
    // The engine's loader checks pipelines; TAESD decoders and upscalers are single graphs it does not load.
    ...(ctx.validate ? { validate: async (folder: string, info: { kind: string }) => (info.kind === 'pipeline' ? ctx.validate!(folder) : undefined) } : {}),
    ...(ctx.concurrency ? { concurrency: ctx.concurrency } : {}),
    ...(ctx.freeBytes ? { freeBytes: ctx.freeBytes } : {}),
    ...(ctx.retryBaseMs !== undefined ? { retryBaseMs: ctx.retryBaseMs } : {}),
    progressIntervalMs: json ? 500 : io.isTTY ? 100 : 1000,
  });
  const resuming = await downloader.hasStaging(request.id);
  const knownBytes = request.files.reduce((n, f) => n + (f.size ?? f.sizeHint ?? 0), 0);
  const emit = (o: Record<string, unknown>) => out(JSON.stringify(o));
  if (json) emit({ event: 'start', id: request.id, repo: request.repo, revision: request.revision, files: request.files.length, bytesTotal: knownBytes, resuming });
  else err(`${resuming ? 'Resuming' : 'Pulling'} ${label}: ${request.files.length} files, ${formatBytes(knownBytes)} into ${downloader.installDir(request.id)}`);

  const abort = new AbortController();
  const onSigint = () => abort.abort();
  if (ctx.signal) ctx.signal.addEventListener('abort', onSigint, { once: true });
  else process.once('SIGINT', onSigint);
  const job = downloader.start(request, { signal: abort.signal });
  const bar = new PullProgress(io, json, emit);
  job.on('progress', (p) => bar.progress(p));
  job.on('file', (f) => {
    if (f.state === 'done') bar.fileDone(f.path, f.bytesDone);
  });
  try {
    const result = await job.done;
    bar.finish();
    if (json) emit({ event: 'done', id: result.id, path: result.path, bytesTotal: result.bytesTotal, bytesReceived: result.bytesReceived });
    else out(`Installed ${result.manifest.name} as "${result.id}" in ${result.path}`);
    return 0;
  } catch (e) {
    bar.finish();
    const de = e as DownloadError;
    if (json) emit({ event: 'error', id: request.id, code: de.code ?? 'error', message: de.message, resumable: de.stagingKept ?? false });
    if (de.code === 'aborted') {
      err(`Interrupted. Partial files are kept; run the same command again to resume.`);
      return 130;
    }
    err(`error: ${de.message}`);
    if (de.stagingKept && de.code !== 'already-installed' && !/resume/.test(de.message)) err(`Partial files are kept; run the same command again to resume, or "atelier models remove ${request.id}" to discard them.`);
    return 1;
  } finally {
    if (ctx.signal) ctx.signal.removeEventListener('abort', onSigint);
    else process.removeListener('SIGINT', onSigint);
  }
}

/** TTY: one redrawn line on stderr. Otherwise: a log line per finished file and every ~10%. JSON: NDJSON on stdout. */
class PullProgress {
  #lastPct = -1;
  #drawn = false;
  constructor(
    private readonly io: ModelsCliIo,
    private readonly json: boolean,
    private readonly emit: (o: Record<string, unknown>) => void,
  ) {}

  progress(p: DownloadProgress): void {
    if (p.state !== 'downloading') return;
    const pct = p.bytesTotal > 0 ? Math.floor((p.bytesDone / p.bytesTotal) * 100) : 0;
    if (this.json) {
      this.emit({ event: 'progress', bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, rate: Math.round(p.rate), etaSeconds: p.etaSeconds === undefined ? null : Math.round(p.etaSeconds) });
      return;
    }
    const line = `${bar(p.bytesDone, p.bytesTotal)} ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}  ${formatBytes(p.rate)}/s  ETA ${eta(p.etaSeconds)}`;
    if (this.io.isTTY) {
      this.io.stderr.write(`\r${line}\x1b[K`);
      this.#drawn = true;
    } else if (Math.floor(pct / 10) > Math.floor(this.#lastPct / 10)) {
      this.io.stderr.write(`${line}\n`);
    }
    this.#lastPct = pct;
  }

  fileDone(file: string, bytes: number): void {
    if (this.json) this.emit({ event: 'file', path: file, bytes });
    else if (!this.io.isTTY) this.io.stderr.write(`  ✓ ${file} (${formatBytes(bytes)})\n`);
  }

  finish(): void {
    if (this.#drawn) this.io.stderr.write('\n');
    this.#drawn = false;
  }
}

function bar(done: number, total: number, width = 28): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}%`;
}

function eta(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--';
  const t = Math.round(s);
  if (t >= 3600) return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
  if (t >= 60) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${t}s`;
}

async function importCommand(args: string[], ctx: ModelsCliContext, out: (s: string) => void): Promise<number> {
  const { values, positionals } = parse(args, { copy: { type: 'boolean' }, id: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('import takes exactly one folder');
  const store = storeFor(ctx);
  try {
    const model = await store.importFolder(positionals[0], { mode: values.copy ? 'copy' : 'reference', id: values.id, name: values.name });
    if (values.json) out(JSON.stringify(model, null, 2));
    else out(`Imported ${model.path} as "${model.id}" (${values.copy ? 'copied into the models folder' : 'by reference; the folder stays where it is'})`);
    return 0;
  } catch (e) {
    if (e instanceof ModelStoreError && values.json) {
      out(JSON.stringify({ error: e.code, message: e.message, problems: e.problems }, null, 2));
    }
    throw e;
  }
}

async function removeCommand(args: string[], ctx: ModelsCliContext, out: (s: string) => void): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length !== 1) throw new UsageError('remove takes exactly one model id');
  const catalog = await loadCatalog(ctx.catalogPath ?? defaultCatalogPath()).catch(() => undefined);
  const entry = catalog ? sharedInstallEntry(catalog, positionals[0]) : undefined;
  if (entry) {
    // An annotator, ControlNet or ControlNet UNet from the catalog: its own folder, if the catalog put it there.
    const removed = await removeSharedInstall(entry, ctx.modelsDir, await storeFor(ctx).list());
    if (removed) {
      out(`Removed "${positionals[0]}" (${removed})`);
      return 0;
    }
  }
  const result = await storeFor(ctx).remove(positionals[0]);
  if (result.removed === 'reference') out(`Removed "${positionals[0]}" from the list (the folder ${result.path} was left untouched)`);
  else if (result.removed === 'partial-download') out(`Discarded the partial download of "${positionals[0]}"`);
  else out(`Removed "${positionals[0]}" (${result.path})`);
  return 0;
}


async function doctorCommand(args: string[], ctx: ModelsCliContext, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const { values, positionals } = parse(args, { provider: { type: 'string' }, size: { type: 'string' }, batch: { type: 'string' }, json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('doctor takes exactly one model id, folder or .onnx file');
  if (!ctx.doctor) throw new Error('the model doctor is not available in this build');
  const what = positionals[0];
  let size: { width: number; height: number } | undefined;
  if (values.size) {
    const m = /^(\d+)(?:x(\d+))?$/i.exec(values.size);
    if (!m) throw new UsageError(`--size must look like 512x512 (got "${values.size}")`);
    size = { width: Number(m[1]), height: Number(m[2] ?? m[1]) };
  }
  const batch = values.batch === undefined ? undefined : Number(values.batch);
  if (batch !== undefined && !(Number.isInteger(batch) && batch >= 1 && batch <= 64)) throw new UsageError('--batch must be a whole number from 1 to 64');
  let folder: string;
  let defaults: { width?: number; height?: number } | undefined;
  if (existsSync(what)) {
    folder = path.resolve(what);
  } else {
    const installed = (await storeFor(ctx).list()).find((m) => m.id === what || m.catalogId === what);
    if (!installed) throw new UsageError(`"${what}" is neither an installed model id nor an existing folder or file (see "atelier models list")`);
    if (installed.status === 'missing') throw new Error(`model "${what}" is listed but its folder ${installed.path} is missing`);
    folder = installed.path;
    const catalog = await tryLoadCatalog(ctx, err);
    const entry = catalog ? findCatalogEntry(catalog, installed.catalogId ?? installed.id) : undefined;
    defaults = entry?.defaults ?? (installed.defaults as { width?: number; height?: number } | undefined);
  }
  const report = await ctx.doctor(folder, { provider: values.provider, width: size?.width ?? defaults?.width, height: size?.height ?? defaults?.height, batch, target: what });
  out(values.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
  // Exit status for scripts: 0 runs (possibly with CPU fallbacks or warnings), 3 will not load.
  return report.verdict.level === 'fails' ? 3 : 0;
}
