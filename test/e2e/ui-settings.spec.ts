/**
 * Settings in the Models view: the live-preview decoder and low-memory mode are saved on the
 * server (settings.json) and survive a reload; each decoder choice explains itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from './fixtures';

test('settings: preview decoder and low-memory mode persist across a reload', async ({ page, atelier }) => {
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await page.getByTestId('open-models').click();
  const settings = page.getByTestId('settings');
  await expect(settings).toBeVisible();

  const decoder = settings.getByTestId('preview-decoder');
  const help = settings.getByTestId('preview-decoder-help');
  await expect(decoder).toHaveValue('auto');
  await expect(help).toContainText('TAESD when a decoder matching the model is installed');
  await decoder.selectOption('approx');
  await expect(help).toContainText('Linear latent-to-colour approximation');
  await decoder.selectOption('taesd');
  await expect(help).toContainText('Decode every preview');

  const lowMemory = settings.getByTestId('low-memory');
  await expect(lowMemory).not.toBeChecked();
  await lowMemory.check();
  await expect(lowMemory).toBeChecked();
  await expect.poll(() => JSON.parse(readFileSync(join(atelier.home, 'settings.json'), 'utf8'))).toMatchObject({ previewDecoder: 'taesd', lowMemory: true });

  await page.reload();
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await page.getByTestId('open-models').click();
  await expect(page.getByTestId('preview-decoder')).toHaveValue('taesd');
  await expect(page.getByTestId('low-memory')).toBeChecked();

  // Back to the defaults so other specs sharing this server see them.
  await page.getByTestId('preview-decoder').selectOption('auto');
  await page.getByTestId('low-memory').uncheck();
  await expect.poll(() => JSON.parse(readFileSync(join(atelier.home, 'settings.json'), 'utf8'))).toMatchObject({ previewDecoder: 'auto', lowMemory: false });
});
