/**
 * Content credentials and reproducibility in the studio, on a real `atelier serve` with the demo
 * model: every tile and the viewer show whether an image's credentials verify (the server reads
 * them with the official c2pa-rs reader), a file changed on disk after signing shows as modified
 * and one whose manifest was stripped as none; the strip filters on them; Reproduce from the
 * context menu and the viewer regenerates the image and reports a bit-identical match; and a
 * dropped file's credentials show in the import dialog. Runs its own server: the filter counts
 * assume a library holding only this test's images (the shared server has other specs' images).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { test, expect } from '@playwright/test';
import { startAtelierServer, stopAtelierServer, type AtelierServer } from './fixtures';
import { dropPng, generate, openStudio } from './studio-actions';

/** Every stored image file of the server's projects, by the generation id embedded in it. */
function storedFiles(home: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.png') && /[/\\]images[/\\][0-9a-f]{2}$/.test(dir)) {
        const id = /"id":"([0-9A-Z]{26})"/.exec(readFileSync(p).toString('latin1'))?.[1];
        if (id) out.set(id, p);
      }
    }
  };
  walk(home);
  return out;
}

/** The PNG's chunks as [type, start, end]. */
function chunks(png: Buffer): Array<[string, number, number]> {
  const out: Array<[string, number, number]> = [];
  for (let at = 8; at + 12 <= png.length; ) {
    const len = png.readUInt32BE(at);
    out.push([png.toString('latin1', at + 4, at + 8), at, at + 12 + len]);
    at += 12 + len;
  }
  return out;
}

/** Changes one byte of the pixel data after signing (CRC fixed, as a deliberate editor would). */
function tamper(file: string): void {
  const png = readFileSync(file);
  const [, start, end] = chunks(png).find(([t]) => t === 'IDAT')!;
  png[start + 8 + 20] ^= 0x01;
  png.writeUInt32BE(crc32(png.subarray(start + 8, end - 4), crc32(png.subarray(start + 4, start + 8))) >>> 0, end - 4);
  writeFileSync(file, png);
}

/** Drops the C2PA manifest (caBX chunks); pixels and parameters stay. */
function strip(file: string): void {
  const png = readFileSync(file);
  const kept = chunks(png).filter(([t]) => t !== 'caBX').map(([, s, e]) => png.subarray(s, e));
  writeFileSync(file, Buffer.concat([png.subarray(0, 8), ...kept]));
}

let atelier: AtelierServer;
test.beforeAll(async () => {
  atelier = await startAtelierServer();
});
test.afterAll(async () => {
  await stopAtelierServer(atelier);
});

test('credentials badges, the credentials filter and Reproduce (bit-identical)', async ({ page }) => {
  const errors = await openStudio(page, atelier.url);
  await page.getByTestId('steps').fill('3');
  await generate(page, 'a red sphere on a blue floor');
  await generate(page, 'a green cone in fog');
  await generate(page, 'a white cube under a lamp');
  const tile = (words: string) => page.locator(`[data-testid="history-item"][title*="${words}"]`);
  const sphere = (await tile('red sphere').getAttribute('data-id'))!;
  const cone = (await tile('green cone').getAttribute('data-id'))!;
  const cube = (await tile('white cube').getAttribute('data-id'))!;

  // Freshly made images are signed and verify.
  for (const words of ['red sphere', 'green cone', 'white cube']) {
    await expect(tile(words).getByTestId('credentials-badge')).toHaveAttribute('data-state', 'verified');
  }

  // Change the files on disk behind the studio's back, then reload: verdicts are read again.
  const files = storedFiles(atelier.home);
  tamper(files.get(cone)!);
  strip(files.get(cube)!);
  await page.reload();
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(tile('red sphere').getByTestId('credentials-badge')).toHaveAttribute('data-state', 'verified');
  await expect(tile('green cone').getByTestId('credentials-badge')).toHaveAttribute('data-state', 'modified');
  await expect(tile('white cube').getByTestId('credentials-badge')).toHaveAttribute('data-state', 'none');

  // The tooltip names the signer and what was recorded.
  const title = (await tile('red sphere').getByTestId('credentials-badge').getAttribute('title'))!;
  expect(title).toContain('Content credentials verified');
  expect(title).toMatch(/Signed by Atelier installation [0-9a-f]{12} \(this installation\)/);
  expect(title).toContain('Made with Atelier');
  expect(title).toContain('Declares AI generation (trainedAlgorithmicMedia)');
  expect(title).toContain('Model: atelier-demo');
  expect(title).toContain('prompt “a red sphere on a blue floor”');
  expect(await tile('green cone').getByTestId('credentials-badge').getAttribute('title')).toMatch(/INVALID[\s\S]*Problems: .*dataHash\.mismatch/);

  // Filter: verified only → the sphere; has credentials → sphere and cone; any → all three.
  const history = page.getByTestId('history');
  await page.getByTestId('filter-credentials').selectOption('verified');
  await expect(history).toHaveAttribute('data-count', '1');
  await expect(page.getByTestId('history-item')).toHaveAttribute('data-id', sphere);
  await page.getByTestId('filter-credentials').selectOption('present');
  await expect(history).toHaveAttribute('data-count', '2');
  await expect(tile('white cube')).toHaveCount(0);
  await page.getByTestId('filter-credentials').selectOption('all');
  await expect(history).toHaveAttribute('data-count', '3');

  // The viewer shows the same verdict for the image it shows.
  await tile('green cone').click();
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-viewing-id', cone);
  await expect(page.getByTestId('viewer-credentials')).toHaveAttribute('data-state', 'modified');

  // Reproduce from the context menu: regenerated from its own file, every pixel identical.
  await tile('red sphere').click({ button: 'right' });
  await page.getByTestId('menu-reproduce').click();
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-viewing-id', sphere);
  await expect(page.getByTestId('viewer-credentials')).toHaveAttribute('data-state', 'verified');
  await expect(page.getByTestId('reproduce-result')).toHaveAttribute('data-result', 'identical');
  await expect(page.getByTestId('reproduce-result')).toContainText('bit-identical');
  await expect(page.getByText('Reproduced bit for bit')).toBeVisible();

  // Credentials are about the file, reproducibility about the parameters: the stripped cube still
  // reproduces bit for bit (from the viewer's button this time).
  await tile('white cube').click();
  await expect(page.getByTestId('viewer-credentials')).toHaveAttribute('data-state', 'none');
  await expect(page.getByTestId('reproduce-result')).toHaveCount(0);
  await page.getByTestId('reproduce').click();
  await expect(page.getByTestId('reproduce-result')).toHaveAttribute('data-result', 'identical');

  // The receipt is stored beside the image: after a reload the viewer shows it without reproducing.
  await page.reload();
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await tile('red sphere').click();
  await expect(page.getByTestId('reproduce-result')).toHaveAttribute('data-result', 'identical');

  // A dropped file: its credentials are read with its parameters and shown in the import dialog.
  await dropPng(page, readFileSync(files.get(sphere)!), 'sphere.png');
  await expect(page.getByTestId('import-credentials')).toHaveAttribute('data-state', 'verified');
  await expect(page.getByTestId('import-credentials-text')).toContainText('Signed by Atelier installation');
  await page.getByTestId('import-dismiss').click();
  await dropPng(page, readFileSync(files.get(cone)!), 'cone.png');
  await expect(page.getByTestId('import-credentials')).toHaveAttribute('data-state', 'modified');
  await page.getByTestId('import-dismiss').click();
  expect(errors).toEqual([]);
});
