/**
 * A small Hugging Face Hub compatible client: file URLs, repo listings and ranged GETs.
 * Works against huggingface.co or any mirror with the same URL layout
 * (`<endpoint>/<repo>/resolve/<revision>/<path>`).
 */

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export interface HubClientOptions {
  /** Hub base URL; default https://huggingface.co. Mirrors use the same layout. */
  endpoint?: string;
  /** Access token for gated/private repos (sent as `Authorization: Bearer`). */
  token?: string;
  /** Injectable fetch (tests, proxies). Defaults to the global fetch. */
  fetch?: typeof fetch;
  userAgent?: string;
}

export interface RepoFile {
  path: string;
  size: number;
  /** LFS sha256 when the hub publishes one (git-stored small files have none). */
  sha256?: string;
}

/** `offline`: the hub's host could not be reached at all (no DNS answer, connection refused, no route) — retrying at once will not help. */
export type HubErrorCode = 'gated' | 'not-found' | 'http' | 'network' | 'offline' | 'bad-response';

export class HubError extends Error {
  constructor(
    message: string,
    readonly code: HubErrorCode,
    readonly url: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HubError';
  }

  /** Network errors and 5xx/429 are worth retrying; 401/403/404, malformed answers and being offline are not. */
  get retryable(): boolean {
    return this.code === 'network' || (this.code === 'http' && this.status !== undefined && (this.status >= 500 || this.status === 429 || this.status === 408));
  }
}

export interface OpenFileOptions {
  /** Request bytes from this offset on (HTTP Range). */
  start?: number;
  signal?: AbortSignal;
}

export interface OpenedFile {
  url: string;
  status: number;
  /** True when the server answered 206 for our Range, so the body starts at `start`. */
  rangeHonored: boolean;
  /** Offset in the file of the body's first byte: `start` when the range was honored, else 0. */
  offset: number;
  /** Body length announced by the server, when it did. */
  contentLength?: number;
  /** Whole-file size, from Content-Range or (for a 200) Content-Length. */
  totalSize?: number;
  body: AsyncIterable<Uint8Array>;
  /** Abandon the response without reading it. */
  cancel(): Promise<void>;
}

/** `owner/name` or a hub URL (`https://huggingface.co/owner/name[/tree/rev[/...]]`) → repo + revision. */
export function parseRepoRef(input: string): { repo: string; revision?: string } | undefined {
  const trimmed = input.trim().replace(/\/+$/, '');
  const plain = /^([A-Za-z0-9][\w.-]*)\/([\w.-]+)$/.exec(trimmed);
  if (plain) return { repo: `${plain[1]}/${plain[2]}` };
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return undefined;
  }
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'models' || parts[0] === 'api') parts.splice(0, parts[0] === 'api' ? 2 : 1);
  if (parts.length < 2) return undefined;
  const repo = `${parts[0]}/${parts[1]}`;
  if (!/^([A-Za-z0-9][\w.-]*)\/([\w.-]+)$/.test(repo)) return undefined;
  if ((parts[2] === 'tree' || parts[2] === 'blob' || parts[2] === 'resolve') && parts[3]) return { repo, revision: parts[3] };
  return { repo };
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

export class HubClient {
  readonly endpoint: string;
  readonly #token?: string;
  readonly #fetch: typeof fetch;
  readonly #userAgent: string;

  constructor(options: HubClientOptions = {}) {
    this.endpoint = (options.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
    this.#token = options.token || undefined;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#userAgent = options.userAgent ?? 'atelier-model-manager/0.1';
  }

  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** `<endpoint>/<repo>/resolve/<revision>/<path>` */
  resolveUrl(repo: string, revision: string, filePath: string): string {
    return `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(filePath)}`;
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { 'user-agent': this.#userAgent, ...extra };
    if (this.#token) h.authorization = `Bearer ${this.#token}`;
    return h;
  }

  async #get(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    try {
      const pending = this.#fetch(url, { headers: this.#headers(headers), signal, redirect: 'follow' });
      // If the signal wins the race, release a response that still arrives.
      signal?.addEventListener('abort', () => void pending.then((r) => r.body?.cancel().catch(() => {}), () => {}), { once: true });
      return await abortable(pending, signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
      if (isOfflineError(err)) throw new HubError(offlineMessage(url), 'offline', url, undefined, { cause: err });
      throw new HubError(`network error fetching ${url}: ${describeCause(err)}`, 'network', url, undefined, { cause: err });
    }
  }

  /** Turn a non-OK response into a HubError that says how to fix it. */
  #errorFor(res: Response, url: string, what: string): HubError {
    if (res.status === 401 || res.status === 403) {
      const hint = this.hasToken
        ? 'the token was refused: check it, and accept the model licence on the hub page'
        : 'gated repo: set a token (--token or HF_TOKEN) after accepting the licence on the hub page';
      return new HubError(`${what} needs authorization (${res.status}): ${hint}: ${url}`, 'gated', url, res.status);
    }
    if (res.status === 404) return new HubError(`file not found: ${url}`, 'not-found', url, 404);
    return new HubError(`${what} failed: HTTP ${res.status} ${res.statusText} for ${url}`, 'http', url, res.status);
  }

  /**
   * List every file of a repo at a revision, with sizes and LFS sha256.
   * Uses `/api/models/<repo>/tree/<rev>?recursive=1` (following `Link: rel="next"` pages) and
   * falls back to `/api/models/<repo>/revision/<rev>?blobs=true` siblings for older mirrors.
   */
  async listRepoFiles(repo: string, revision = 'main', signal?: AbortSignal): Promise<RepoFile[]> {
    const treeUrl = `${this.endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=1&expand=false`;
    let res = await this.#get(treeUrl, { accept: 'application/json' }, signal);
    if (res.ok) {
      const files: RepoFile[] = [];
      let url = treeUrl;
      for (;;) {
        const body = (await readJson(res, url)) as unknown;
        if (!Array.isArray(body)) throw new HubError(`unexpected tree listing from ${url}`, 'bad-response', url, res.status);
        for (const e of body as TreeEntry[]) {
          if (e?.type !== 'file' || typeof e.path !== 'string') continue;
          const sha = e.lfs?.oid ?? e.lfs?.sha256;
          files.push({ path: e.path, size: Number(e.lfs?.size ?? e.size ?? 0), ...(isSha256(sha) ? { sha256: sha } : {}) });
        }
        const next = nextLink(res.headers.get('link'), url);
        if (!next) break;
        url = next;
        res = await this.#get(url, { accept: 'application/json' }, signal);
        if (!res.ok) throw this.#errorFor(res, url, `listing ${repo}@${revision}`);
      }
      return files.sort((a, b) => a.path.localeCompare(b.path));
    }
    if (res.status === 401 || res.status === 403) throw this.#errorFor(res, treeUrl, `listing ${repo}@${revision}`);
    await res.body?.cancel().catch(() => {});

    const revUrl = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
    const rev = await this.#get(revUrl, { accept: 'application/json' }, signal);
    if (!rev.ok) {
      if (rev.status === 404) throw new HubError(`repo or revision not found: ${repo}@${revision} (${revUrl})`, 'not-found', revUrl, 404);
      throw this.#errorFor(rev, revUrl, `listing ${repo}@${revision}`);
    }
    const info = (await readJson(rev, revUrl)) as { siblings?: Sibling[] };
    if (!Array.isArray(info?.siblings)) throw new HubError(`unexpected repo info from ${revUrl}`, 'bad-response', revUrl, rev.status);
    return info.siblings
      .filter((s) => typeof s.rfilename === 'string')
      .map((s) => {
        const sha = s.lfs?.sha256 ?? s.lfs?.oid;
        return { path: s.rfilename, size: Number(s.lfs?.size ?? s.size ?? 0), ...(isSha256(sha) ? { sha256: sha } : {}) };
      })
      .sort((a, b) => a.path.localeCompare(b.path));
  }

  /** GET a file, optionally from an offset. Throws HubError for any non-2xx (416 included). */
  async openFile(repo: string, revision: string, filePath: string, options: OpenFileOptions = {}): Promise<OpenedFile> {
    const url = this.resolveUrl(repo, revision, filePath);
    const start = options.start ?? 0;
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (start > 0) headers.range = `bytes=${start}-`;
    const res = await this.#get(url, headers, options.signal);
    if (res.status === 416) {
      await res.body?.cancel().catch(() => {});
      const total = parseContentRangeTotal(res.headers.get('content-range'));
      throw new HubError(`range not satisfiable for ${url}`, 'http', url, 416, { cause: { totalSize: total } });
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw this.#errorFor(res, url, `downloading ${filePath}`);
    }
    const rangeHonored = res.status === 206;
    const lenHeader = res.headers.get('content-length');
    const contentLength = lenHeader !== null && /^\d+$/.test(lenHeader) ? Number(lenHeader) : undefined;
    const totalSize = rangeHonored ? parseContentRangeTotal(res.headers.get('content-range')) : contentLength;
    const body = res.body;
    return {
      url,
      status: res.status,
      rangeHonored,
      offset: rangeHonored ? start : 0,
      contentLength,
      totalSize,
      body: body ? iterateBody(body, url, options.signal) : emptyBody(),
      cancel: async () => {
        await body?.cancel().catch(() => {});
      },
    };
  }
}

interface TreeEntry {
  type?: string;
  path?: string;
  size?: number;
  lfs?: { oid?: string; sha256?: string; size?: number };
}
interface Sibling {
  rfilename: string;
  size?: number;
  lfs?: { sha256?: string; oid?: string; size?: number };
}

function isSha256(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
}

async function readJson(res: Response, url: string): Promise<unknown> {
  try {
    return await res.json();
  } catch (err) {
    throw new HubError(`invalid JSON from ${url}: ${(err as Error).message}`, 'bad-response', url, res.status, { cause: err });
  }
}

function nextLink(link: string | null, base: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return new URL(m[1], base).toString();
  }
  return undefined;
}

function parseContentRangeTotal(h: string | null): number | undefined {
  const m = h ? /\/(\d+)\s*$/.exec(h) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * System error codes that mean "the host cannot be reached at all" rather than "this transfer
 * broke": no DNS answer (ENOTFOUND, EAI_AGAIN — what being offline looks like), nobody listening
 * (ECONNREFUSED), no route (ENETUNREACH, EHOSTUNREACH, ENETDOWN). Retrying these in a loop only
 * makes the user wait for the same answer.
 */
const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN']);

/** Whether a fetch failure (undici wraps the system error in `cause`, sometimes an AggregateError of them) means offline. */
export function isOfflineError(err: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number): boolean => {
    if (!e || typeof e !== 'object' || seen.has(e) || depth > 5) return false;
    seen.add(e);
    const x = e as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof x.code === 'string' && OFFLINE_CODES.has(x.code)) return true;
    if (Array.isArray(x.errors) && x.errors.length > 0 && x.errors.every((inner) => visit(inner, depth + 1))) return true;
    return visit(x.cause, depth + 1);
  };
  return visit(err, 0);
}

/** One sentence the user can act on: which host, and that it looks like no connection. */
export function offlineMessage(url: string): string {
  let host = url;
  try {
    host = new URL(url).host;
  } catch {
    /* keep the url */
  }
  return `No connection to ${host} — you appear to be offline`;
}

function describeCause(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message} (${cause})` : String(e?.message ?? err);
}

async function* emptyBody(): AsyncIterable<Uint8Array> {}

/** Iterate a fetch body, turning mid-stream socket failures into retryable HubErrors. */
async function* iterateBody(body: ReadableStream<Uint8Array>, url: string, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        // Race the read against the signal: undici does not always settle a pending read on abort.
        r = await abortable(reader.read(), signal);
      } catch (err) {
        if (signal?.aborted) throw signal.reason ?? err;
        throw new HubError(`connection lost while downloading ${url}: ${describeCause(err)}`, 'network', url, undefined, { cause: err });
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    reader.cancel().catch(() => {});
    try {
      reader.releaseLock();
    } catch {
      // a read may still be pending; the cancel above ends it
    }
  }
}

function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
