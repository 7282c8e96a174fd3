/**
 * Server mode's export download: `/export/<token>` is guarded exactly like images (the server
 * token, the origin checks), serves the prepared zip as an attachment, and refuses unknown tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';
import { startServer, type RunningServer } from '../../main/server/server';

const TOKEN = 'export-test-token-1234';
let home: string;
let backend: AtelierBackend;
let server: RunningServer;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'atelier-export-dl-'));
  backend = await createBackend({ userDataDir: home, imageUrlBase: '/', transport: 'websocket' });
  server = await startServer({ backend, host: '127.0.0.1', port: 0, token: TOKEN, rendererDir: join(home, 'no-renderer') });
});
afterAll(async () => {
  await server?.close();
  await backend?.close();
  rmSync(home, { recursive: true, force: true });
});

it('serves the prepared zip with the token only, as an attachment, and 404s unknown tokens', async () => {
  const png = join(home, 'photo.png');
  await sharp({ create: { width: 16, height: 16, channels: 3, background: '#c33' } }).png().toFile(png);
  const { imported } = await backend.api.importImages({ paths: [png] });
  const prepared = await backend.api.prepareExportDownload({ ids: [imported[0]!.id] });
  const base = `http://127.0.0.1:${server.port}`;

  expect((await fetch(base + prepared.url)).status).toBe(401);
  const res = await fetch(base + prepared.url, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="${prepared.fileName.replace(/[.()]/g, '\\$&')}"`));
  expect(res.headers.get('cache-control')).toBe('no-store');
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK');
  expect(bytes.length).toBe(prepared.bytes);

  const unknown = await fetch(`${base}/export/${'0'.repeat(48)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(unknown.status).toBe(404);
  // Another site's page cannot fetch it, token or not.
  const cross = await fetch(base + prepared.url, { headers: { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' } });
  expect(cross.status).toBe(403);
});
