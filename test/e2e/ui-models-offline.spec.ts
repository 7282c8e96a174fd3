/**
 * Offline model pulls in the studio: the hub endpoint is a host under `.invalid` (RFC 2606: it never
 * resolves), so the pull fails the way it does without a network — never the real internet. The
 * row says so in one sentence within 2 s, and after a reload the failed download is still there
 * with Retry (and Cancel).
 */
import { test, expect, startAtelierServer, stopAtelierServer } from './fixtures';
import { openStudio } from './studio-actions';

test('models: an offline pull says so within 2 s, and the failed row survives a reload with Retry', async ({ page }) => {
  const atelier = await startAtelierServer([], { HF_ENDPOINT: 'https://huggingface.invalid' });
  try {
    const errors = await openStudio(page, atelier.url);
    await page.getByTestId('open-models').click();
    const item = page.locator('[data-testid="catalog-item"][data-model-id="taesd"]');
    const started = Date.now();
    await item.getByTestId('catalog-download').click();
    const row = item.getByTestId('download');
    await expect(row).toHaveAttribute('data-state', 'failed', { timeout: 2000 });
    expect(Date.now() - started).toBeLessThan(2000);
    const sentence = 'No connection to huggingface.invalid — you appear to be offline';
    await expect(row.getByTestId('download-error')).toHaveText(sentence);
    await expect(page.getByTestId('toast').filter({ hasText: sentence })).toHaveCount(1);
    await expect(page.getByTestId('toast').filter({ hasText: 'ENOTFOUND' })).toHaveCount(0);
    await expect(row.getByTestId('download-retry')).toBeVisible();

    // Reload: the failed download comes back from the server, still with Retry.
    await page.reload();
    await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
    await page.getByTestId('open-models').click();
    await expect(row).toHaveAttribute('data-state', 'failed');
    await expect(row.getByTestId('download-error')).toHaveText(sentence);
    // Retry while still offline: the same sentence, the row stays failed.
    await row.getByTestId('download-retry').click();
    await expect(page.getByTestId('toast').filter({ hasText: sentence })).toHaveCount(1);
    await expect(row).toHaveAttribute('data-state', 'failed');
    // Cancel forgets it: the catalog offers Download again.
    await row.getByTestId('download-cancel').click();
    await expect(row).toHaveCount(0);
    await expect(item.getByTestId('catalog-download')).toBeVisible();
    expect(errors).toEqual([]);
  } finally {
    await stopAtelierServer(atelier);
  }
});
