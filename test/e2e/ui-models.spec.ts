import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, expect, startAtelierServer, stopAtelierServer } from './fixtures';
import { startHubServer } from '../models/helpers/hub-server';
import { screenshotPath } from './screenshots';

test('models: installed demo model, catalog, and a folder import that explains what is wrong', async ({ page, atelier }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false'); // first page in
  await page.getByTestId('open-models').click();
  const view = page.getByTestId('models-view');
  await expect(view).toBeVisible();
  await expect(page.getByTestId('installed-model').first()).toBeVisible();
  await expect(page.locator('[data-testid="catalog-item"][data-installed="true"]').first()).toBeVisible();
  await expect(page.locator('[data-testid="catalog-item"][data-installed="false"]').first().getByTestId('catalog-download')).toBeVisible();

  await page.getByTestId('import-folder').fill('/definitely/not/a/model/folder');
  await page.getByTestId('import-submit').click();
  const result = page.getByTestId('import-result');
  await expect(result).toHaveAttribute('data-ok', 'false');
  await expect(result).not.toBeEmpty();

  // A folder that exists but is not a model: each problem the validator found on its own line.
  const notAModel = mkdtempSync(join(tmpdir(), 'atelier-not-a-model-'));
  writeFileSync(join(notAModel, 'model_index.json'), '{}');
  await page.getByTestId('import-folder').fill(notAModel);
  await page.getByTestId('import-submit').click();
  await expect(result).toHaveAttribute('data-ok', 'false');
  await expect(result).toContainText(notAModel);
  expect(await page.getByTestId('import-problems').locator('li').count()).toBeGreaterThan(0);

  // Installed models say which execution providers they run on, and which this machine has.
  const demo = page.locator('[data-testid="installed-model"][data-model-id="atelier-demo"]');
  await expect(demo.getByTestId('model-providers')).toHaveAttribute('data-providers', /cpu/);
  await expect(demo.locator('[data-provider="cpu"]')).toHaveAttribute('data-available', 'true');
  await page.screenshot({ path: screenshotPath('models.png') });

  await page.keyboard.press('Escape');
  await expect(view).toBeHidden();
});

test('models: a catalog download shows its progress row and can be paused, resumed and cancelled', async ({ page }) => {
  // A local hub (real HTTP, the Hugging Face URL layout) that sends slowly, so the download is
  // still running while the test pauses, resumes and cancels it — never the real internet.
  const half = 4_905_000; // two files: 9.81 MB in all, as the catalog says
  const hub = await startHubServer(
    { 'deinferno/taesd-onnx': { 'vae_decoder/model.onnx': Buffer.alloc(half, 1), 'vae_encoder/model.onnx': Buffer.alloc(half, 2) } },
    { throttle: { chunkBytes: 16 * 1024, delayMs: 100 } },
  );
  const atelier = await startAtelierServer([], { HF_ENDPOINT: hub.endpoint });
  try {
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(atelier.url);
    await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
    await page.getByTestId('open-models').click();
    const item = page.locator('[data-testid="catalog-item"][data-model-id="taesd"]');
    await item.getByTestId('catalog-download').click();
    const row = item.getByTestId('download');
    await expect(row).toBeVisible();
    await expect(row).toContainText('9.4 MB');
    await expect(page.getByTestId('open-models')).toContainText('↓');
    await expect(row).toHaveAttribute('data-state', 'downloading');
    await row.getByTestId('download-pause').click();
    await expect(row).toHaveAttribute('data-state', 'paused');
    await expect(row).toContainText('paused');
    await row.getByTestId('download-resume').click();
    await expect(row).not.toHaveAttribute('data-state', 'paused');
    await row.getByTestId('download-cancel').click();
    await expect(row).toHaveCount(0);
    await expect(item.getByTestId('catalog-download')).toBeVisible();
    expect(hub.bytesServed()).toBeGreaterThan(0);
  } finally {
    await stopAtelierServer(atelier);
    await hub.close();
  }
});

test('models: import a valid folder by reference, see it installed, remove it with a confirming second click', async ({ page, atelier }) => {
  // A copy of the bundled demo model stands in for a user's model folder.
  const folder = join(mkdtempSync(join(tmpdir(), 'atelier-import-')), 'my-model');
  cpSync('models/demo', folder, { recursive: true });
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await page.getByTestId('open-models').click();
  await page.getByTestId('import-folder').fill(folder);
  await page.getByTestId('import-submit').click();
  const result = page.getByTestId('import-result');
  await expect(result).toHaveAttribute('data-ok', 'true');
  await expect(result).toContainText('Imported');
  const row = page.locator('[data-testid="installed-model"][data-model-id="my-model"]');
  await expect(row).toContainText('imported');
  await expect(row).toContainText(/on disk/);

  const remove = row.getByTestId('model-remove');
  await remove.click();
  await expect(remove).toHaveAttribute('data-confirm', 'true');
  await expect(row).toHaveCount(1);
  await remove.click();
  await expect(row).toHaveCount(0);
  // By reference: the user's folder is untouched.
  expect(existsSync(join(folder, 'model_index.json'))).toBe(true);
  rmSync(dirname(folder), { recursive: true, force: true });
});
