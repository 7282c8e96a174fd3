/**
 * A real HTTP server on loopback that speaks the Hugging Face Hub URL layout:
 *   GET /api/models/<owner>/<name>/tree/<rev>?recursive=1
 *   GET /<owner>/<name>/resolve/<rev>/<path>        (Range supported)
 * with hooks to misbehave: drop the connection mid-file, stall, ignore Range, force statuses,
 * require a token, corrupt bytes. Every body byte served is counted per request.
 */
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export type FixtureRepos = Record<string, Record<string, Buffer>>;

export interface HubServerHooks {
  /** Send bodies in chunks with a pause between them so interruptions land mid-file. */
  throttle?: { chunkBytes: number; delayMs: number };
  /** Per path: close the connection after this many body bytes (applies once, then removed). */
  dropAfter: Map<string, number>;
  /** Per path: stop sending after this many body bytes and hang (once). */
  stallAfter: Map<string, number>;
  /** Answer 200 with the whole file even when a Range was requested. */
  ignoreRange: boolean;
  /** Per path: always answer this status. */
  status: Map<string, number>;
  /** Per path: answer `status` for the next `times` requests, then behave. */
  failTimes: Map<string, { status: number; times: number }>;
  /** Paths whose bytes are altered in transit (same length). */
  corrupt: Set<string>;
  /** When set, every request needs `Authorization: Bearer <token>` (401 otherwise). */
  requireToken?: string;
  /** Answer file URLs with a 302 to a CDN-like path (as huggingface.co does). */
  redirect?: boolean;
  /** Paginate tree listings with `Link: <…>; rel="next"`. */
  treePageSize?: number;
  /** No tree API (older mirrors): only `/api/models/<repo>/revision/<rev>` siblings. */
  noTreeApi?: boolean;
  /** Per path: what the tree listing claims instead of the truth (a listing that disagrees with the bytes served). */
  treeOverride?: Map<string, { size?: number; sha256?: string }>;
}

export interface ServedRequest {
  repo: string;
  path: string;
  range?: string;
  start: number;
  status: number;
  bytes: number;
}

export interface HubServer {
  endpoint: string;
  hooks: HubServerHooks;
  requests: ServedRequest[];
  /** Highest number of file bodies being sent at the same time. */
  readonly maxConcurrent: number;
  /** Body bytes served for a path (all requests), or in total. */
  bytesServed(path?: string): number;
  /** Resolves when a stall hook fires for `path`. */
  waitForStall(path: string): Promise<void>;
  close(): Promise<void>;
}

export function randomFile(size: number): Buffer {
  return randomBytes(size);
}

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

export async function startHubServer(repos: FixtureRepos, init: Partial<HubServerHooks> = {}): Promise<HubServer> {
  const hooks: HubServerHooks = {
    dropAfter: new Map(),
    stallAfter: new Map(),
    ignoreRange: false,
    status: new Map(),
    failTimes: new Map(),
    corrupt: new Set(),
    ...init,
  };
  const requests: ServedRequest[] = [];
  let active = 0;
  let maxConcurrent = 0;
  const stallWaiters = new Map<string, Array<() => void>>();
  const stalled = new Set<string>();
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);

    if (hooks.requireToken && req.headers.authorization !== `Bearer ${hooks.requireToken}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Access to model is restricted' }));
      return;
    }

    // Listing: /api/models/<owner>/<name>/tree/<rev>
    if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'tree') {
      const repo = `${parts[2]}/${parts[3]}`;
      const files = repos[repo];
      if (!files || hooks.noTreeApi) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Repository not found' }));
        return;
      }
      // Directories are listed too, as the hub does; clients must skip them.
      const dirs = [...new Set(Object.keys(files).flatMap((p) => (p.includes('/') ? [p.split('/')[0]] : [])))].map((d) => ({ type: 'directory', path: d, size: 0, oid: 'x' }));
      let list: unknown[] = [
        ...dirs,
        ...Object.entries(files).map(([p, data]) => {
          const claim = hooks.treeOverride?.get(p);
          const size = claim?.size ?? data.length;
          const lfs = data.length > 1024 || claim?.sha256 ? { lfs: { oid: claim?.sha256 ?? sha256(data), size, pointerSize: 130 } } : {};
          // As the hub: path, size, git blob oid, and for LFS files `lfs.oid` = the sha256 of the content.
          return { type: 'file', path: p, size, oid: createHash('sha1').update(data).digest('hex'), ...lfs };
        }),
      ];
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (hooks.treePageSize) {
        const cursor = Number(url.searchParams.get('cursor') ?? 0);
        const next = cursor + hooks.treePageSize;
        if (next < list.length) {
          const nextUrl = new URL(url.toString());
          nextUrl.searchParams.set('cursor', String(next));
          headers.link = `<${nextUrl.pathname}${nextUrl.search}>; rel="next"`;
        }
        list = list.slice(cursor, next);
      }
      res.writeHead(200, headers).end(JSON.stringify(list));
      return;
    }
    // Older listing: /api/models/<owner>/<name>/revision/<rev>
    if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'revision') {
      const files = repos[`${parts[2]}/${parts[3]}`];
      if (!files) {
        res.writeHead(404).end('{}');
        return;
      }
      const siblings = Object.entries(files).map(([p, data]) => ({
        rfilename: p,
        size: data.length,
        ...(data.length > 1024 ? { lfs: { sha256: sha256(data), size: data.length } } : {}),
      }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `${parts[2]}/${parts[3]}`, sha: 'f'.repeat(40), siblings }));
      return;
    }

    // Files: /<owner>/<name>/resolve/<rev>/<path...>, or /cdn/<owner>/<name>/<rev>/<path...> after a redirect.
    let fileParts = parts;
    if (parts[0] === 'cdn') fileParts = [parts[1], parts[2], 'resolve', parts[3], ...parts.slice(4)];
    else if (hooks.redirect && parts[2] === 'resolve') {
      res.writeHead(302, { location: `/cdn/${parts[0]}/${parts[1]}/${parts[3]}/${parts.slice(4).map(encodeURIComponent).join('/')}` }).end();
      return;
    }
    if (fileParts[2] !== 'resolve' || fileParts.length < 5) {
      res.writeHead(404).end('not found');
      return;
    }
    const repo = `${fileParts[0]}/${fileParts[1]}`;
    const filePath = fileParts.slice(4).join('/');
    const record: ServedRequest = { repo, path: filePath, range: req.headers.range, start: 0, status: 0, bytes: 0 };
    requests.push(record);

    const forced = hooks.status.get(filePath);
    const failing = hooks.failTimes.get(filePath);
    const failNow = failing && failing.times > 0 ? failing.status : undefined;
    if (failing && failNow !== undefined) failing.times--;
    const statusOverride = forced ?? failNow;
    if (statusOverride !== undefined) {
      record.status = statusOverride;
      res.writeHead(statusOverride).end(`forced ${statusOverride}`);
      return;
    }
    const data = repos[repo]?.[filePath];
    if (!data) {
      record.status = 404;
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
      return;
    }

    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !hooks.ignoreRange) {
      start = Number(m[1]);
      if (start >= data.length) {
        record.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
        return;
      }
    }
    record.start = start;
    const body = hooks.corrupt.has(filePath) ? Buffer.from(data.map((b, i) => (i % 997 === 0 ? b ^ 0xff : b))) : data;
    const slice = body.subarray(start);
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'content-length': slice.length,
      'accept-ranges': hooks.ignoreRange ? 'none' : 'bytes',
      etag: `"${sha256(data)}"`,
    };
    if (start > 0) headers['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    record.status = start > 0 ? 206 : 200;
    res.writeHead(record.status, headers);

    active++;
    maxConcurrent = Math.max(maxConcurrent, active);
    let finished = false;
    const done = () => {
      if (!finished) {
        finished = true;
        active--;
      }
    };
    res.on('close', done);

    const dropAt = hooks.dropAfter.get(filePath);
    const stallAt = hooks.stallAfter.get(filePath);
    const chunkBytes = hooks.throttle?.chunkBytes ?? 64 * 1024;
    const delayMs = hooks.throttle?.delayMs ?? 0;
    let sent = 0;
    while (sent < slice.length) {
      if (res.destroyed) return;
      let n = Math.min(chunkBytes, slice.length - sent);
      if (dropAt !== undefined) n = Math.min(n, Math.max(0, dropAt - sent));
      if (stallAt !== undefined) n = Math.min(n, Math.max(0, stallAt - sent));
      if (n > 0) {
        const chunk = slice.subarray(sent, sent + n);
        // The transfer stops counting as active when its last bytes are handed over: the client
        // cannot finish the file (and start another) before that.
        if (sent + n >= slice.length) done();
        await new Promise<void>((resolve) => res.write(chunk, () => resolve()));
        sent += n;
        record.bytes += n;
      }
      if (dropAt !== undefined && sent >= dropAt) {
        hooks.dropAfter.delete(filePath);
        // Give the client time to consume what was sent (a stream that errors drops its queued
        // chunks), then cut: the client has stored exactly `sent` bytes when the error arrives.
        await new Promise((r) => setTimeout(r, 50));
        res.socket?.destroy();
        return;
      }
      if (stallAt !== undefined && sent >= stallAt) {
        hooks.stallAfter.delete(filePath);
        stalled.add(filePath);
        for (const w of stallWaiters.get(filePath) ?? []) w();
        stallWaiters.delete(filePath);
        return; // hang until the client goes away
      }
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    }
    done();
    res.end();
  });

  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    hooks,
    requests,
    get maxConcurrent() {
      return maxConcurrent;
    },
    bytesServed(p?: string) {
      return requests.filter((r) => p === undefined || r.path === p).reduce((n, r) => n + r.bytes, 0);
    },
    waitForStall(p: string) {
      if (stalled.has(p)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const list = stallWaiters.get(p) ?? [];
        list.push(resolve);
        stallWaiters.set(p, list);
      });
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
