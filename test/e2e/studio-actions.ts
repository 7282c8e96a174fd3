/** Steps several specs share, waiting on the UI's data-* state (never on time). */
import { crc32, deflateSync } from 'node:zlib';
import { expect, type Page } from '@playwright/test';

/** Type a prompt, press Generate and wait until the result is in the history strip. */
export async function generate(page: Page, prompt: string): Promise<void> {
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await page.getByTestId('prompt').fill(prompt);
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 1));
}

/**
 * Open the studio and wait until it is ready with the first history page in. Returns the list that
 * collects uncaught page errors from now on (specs assert it is empty at the end).
 */
export async function openStudio(page: Page, url: string, viewport = { width: 1440, height: 900 }): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize(viewport);
  await page.goto(url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false');
  return errors;
}

/** A 4×4 grey PNG carrying an A1111 `parameters` tEXt chunk, as A1111 writes it. */
export function a1111Png(parameters: string): Buffer {
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

/** Drops a PNG file on the studio the way a file manager does (dragover, then drop). */
export async function dropPng(page: Page, png: Buffer, name: string): Promise<void> {
  const dataTransfer = await page.evaluateHandle(
    ([b64, fileName]) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], fileName, { type: 'image/png' }));
      return dt;
    },
    [png.toString('base64'), name] as const,
  );
  await page.dispatchEvent('body', 'dragover', { dataTransfer });
  await page.dispatchEvent('body', 'drop', { dataTransfer });
}
