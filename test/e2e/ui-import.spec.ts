import { crc32, deflateSync } from 'node:zlib';
import { test, expect } from './fixtures';

/** A 4×4 PNG carrying an A1111 `parameters` tEXt chunk. */
function a1111Png(parameters: string): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(4, 0);
  ihdr.writeUInt32BE(4, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc(4 * (1 + 4 * 3), 128);
  for (let y = 0; y < 4; y++) raw[y * 13] = 0;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('tEXt', Buffer.from(`parameters\0${parameters}`, 'latin1')),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('import: dropping an image with A1111 metadata offers its settings and loads them', async ({ page, atelier }) => {
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false'); // first page in
  const png = a1111Png(
    'a misty forest at dawn, volumetric light\nNegative prompt: blurry\nSteps: 7, Sampler: Euler a, CFG scale: 6.5, Seed: 4242, Size: 64x64, Model: whatever',
  );
  const dataTransfer = await page.evaluateHandle((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'forest.png', { type: 'image/png' }));
    return dt;
  }, png.toString('base64'));
  await page.dispatchEvent('body', 'dragover', { dataTransfer });
  await page.dispatchEvent('body', 'drop', { dataTransfer });

  const offer = page.getByTestId('import-offer');
  await expect(offer).toBeVisible();
  await expect(offer).toContainText('a misty forest at dawn');
  await page.getByTestId('import-apply').click();
  await expect(offer).toBeHidden();
  await expect(page.getByTestId('prompt')).toHaveValue('a misty forest at dawn, volumetric light');
  await expect(page.getByTestId('negative-prompt')).toHaveValue('blurry');
  await expect(page.getByTestId('steps')).toHaveValue('7');
  await expect(page.getByTestId('cfg')).toHaveValue('6.5');
  await expect(page.getByTestId('seed')).toHaveValue('4242');
  await expect(page.getByTestId('seed-lock')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('scheduler')).toHaveValue('EulerAncestralDiscreteScheduler');

  // The imported settings generate like any others.
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 1));
  await expect(page.getByTestId('history-item').first()).toHaveAttribute('data-seed', '4242');
});
