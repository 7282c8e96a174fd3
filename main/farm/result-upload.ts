/**
 * The worker's end of large-result uploads: PUT the result (the same JSON that would have been the
 * BullMQ return value) to the coordinator's /api/farm/results/<id> with the farm token, a bounded
 * number of tries, and a typed error that says what to fix. The coordinator answers 201 once the
 * upload is on its disk; the worker then returns only a FarmResultRef through Redis.
 *
 * Where to upload is looked up again before every try: a coordinator that restarts (a crash, an
 * update) comes back on a port and with a token of its own, published in Redis, and the retries
 * (about a minute and a quarter in all) give it the time to, so the result reaches it instead of being lost.
 */
import { createHash } from 'node:crypto';
import { uploadPath, type FarmCoordinatorEndpoint } from './protocol';

/** Why an upload failed; `retryable` errors may succeed on another try (or another worker). */
export class FarmUploadError extends Error {
  override name = 'FarmUploadError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface UploadOptions {
  /** Tries in all (default 12), with 0.5 s, 1 s, 2 s, 4 s, 8 s, then 10 s between them. */
  tries?: number;
  log?: (msg: string) => void;
}

/** Where the coordinator is, without a token that would be printed with it. */
function target(endpoint: FarmCoordinatorEndpoint, id: string): URL {
  const base = endpoint.url.endsWith('/') ? endpoint.url : `${endpoint.url}/`;
  const url = new URL(uploadPath(id), base);
  url.search = '';
  return url;
}

async function putOnce(url: URL, token: string, body: Buffer, sha256: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'X-Content-SHA256': sha256 },
      // A Buffer is a Uint8Array, which fetch sends as is (the DOM typings want an ArrayBuffer-backed one).
      body: body as Uint8Array<ArrayBuffer>,
      // Bounded: 30 s plus a second per MB (a slow link still finishes; a hung coordinator does not hold the job).
      signal: AbortSignal.timeout(30_000 + Math.ceil(body.length / 1e6) * 1000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new FarmUploadError(`cannot reach the coordinator at ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, true);
  }
  const text = (await res.text().catch(() => '')).slice(0, 200);
  if (res.status === 201 || res.status === 200) return;
  if (res.status === 401) throw new FarmUploadError(`the coordinator at ${url.origin} refused the farm token (401 ${text}): this worker's --farm-token must match the coordinator's, or leave it out to use the one the coordinator publishes through Redis`, false, 401);
  if (res.status === 403) throw new FarmUploadError(`the coordinator at ${url.origin} refused the upload (403 ${text}): a loopback-only coordinator takes uploads from its own machine only; start it with --host and --coordinator-url`, false, 403);
  if (res.status === 404) throw new FarmUploadError(`${url.origin} has no farm upload route (404): is it an \`atelier serve --farm\` coordinator of this version?`, false, 404);
  if (res.status === 413) throw new FarmUploadError(`the result (${Math.round(body.length / 1e6)} MB) is larger than the coordinator accepts (413 ${text}); generate smaller images or smaller batches`, false, 413);
  throw new FarmUploadError(`the coordinator at ${url.origin} answered ${res.status} ${text}`, true, res.status);
}

/**
 * Uploads one result; resolves with what the FarmResultRef records. `where` says where to upload
 * (asked before every try); a 401 is tried again only when the answer changed meanwhile (a new
 * coordinator whose token was not yet published when the try was made).
 */
export async function uploadResult(where: () => Promise<FarmCoordinatorEndpoint>, id: string, body: Buffer, opts: UploadOptions = {}): Promise<{ id: string; bytes: number; sha256: string }> {
  const sha256 = createHash('sha256').update(body).digest('hex');
  const tries = Math.max(1, opts.tries ?? 12);
  for (let attempt = 1; ; attempt++) {
    const endpoint = await where();
    try {
      await putOnce(target(endpoint, id), endpoint.token, body, sha256);
      return { id, bytes: body.length, sha256 };
    } catch (err) {
      const e = err instanceof FarmUploadError ? err : new FarmUploadError((err as Error).message, true);
      const renewed = e.status === 401 && (await where().catch(() => endpoint)).token !== endpoint.token;
      if (!e.retryable && !renewed) throw e;
      if (attempt >= tries) throw new FarmUploadError(`${e.message} (after ${tries} tries)`, e.retryable, e.status);
      opts.log?.(`upload of ${id} failed (${e.message}); trying again`);
      await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** (attempt - 1))));
    }
  }
}
