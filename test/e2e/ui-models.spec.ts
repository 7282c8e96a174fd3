import { mkdirSync } from 'node:fs';
import { test, expect } from './fixtures';

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
  mkdirSync('docs/screenshots', { recursive: true });
  await page.screenshot({ path: 'docs/screenshots/models.png' });

  await page.keyboard.press('Escape');
  await expect(view).toBeHidden();
});
