/** Serves the built renderer: contained in its folder, no directory listings, SPA fallback. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

export function contentTypeFor(file: string): string {
  return TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** Maps a URL path to a file inside root, or null when it would escape root. */
export function resolveStaticPath(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.split(/[\\/]/).includes('..')) return null;
  const rootAbs = resolve(root);
  const target = resolve(join(rootAbs, normalize(decoded)));
  if (target !== rootAbs && !target.startsWith(rootAbs + sep)) return null;
  return target;
}

export async function findStaticFile(root: string, urlPath: string): Promise<string | null> {
  const candidate = resolveStaticPath(root, urlPath === '/' ? '/index.html' : urlPath);
  if (candidate) {
    const s = await stat(candidate).catch(() => null);
    if (s?.isFile()) return candidate;
  }
  // Client-side routes fall back to the app shell; assets with an extension do not.
  if (!extname(urlPath)) {
    const index = join(root, 'index.html');
    if ((await stat(index).catch(() => null))?.isFile()) return index;
  }
  return null;
}

export { createReadStream };
