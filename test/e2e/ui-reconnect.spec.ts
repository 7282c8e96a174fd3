import { test, expect, startAtelierServer, stopAtelierServer } from './fixtures';
import { openStudio } from './studio-actions';

test('reload keeps the workspace; a server restart reconnects by itself and offers the interrupted job for retry', async ({ page }) => {
  const first = await startAtelierServer();
  const port = new URL(first.url).port;
  let second: Awaited<ReturnType<typeof startAtelierServer>> | null = null;
  try {
    const errors = await openStudio(page, first.url);
    await page.getByTestId('prompt').fill('a green triangle at the bottom on a black background');
    await page.getByTestId('negative-prompt').fill('blurry');
    await page.getByTestId('steps').fill('400');

    // Reload: the prompt and parameters of this project are still there.
    await page.reload();
    await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
    await expect(page.getByTestId('prompt')).toHaveValue('a green triangle at the bottom on a black background');
    await expect(page.getByTestId('negative-prompt')).toHaveValue('blurry');
    await expect(page.getByTestId('steps')).toHaveValue('400');

    await page.getByTestId('generate').click();
    const row = page.getByTestId('queue-item').filter({ hasText: 'a green triangle' });
    await expect(row).toHaveAttribute('data-state', 'running');

    // The server dies mid-job (as a crash would) and comes back on the same port and data folder.
    first.process.kill('SIGKILL');
    await expect(page.getByTestId('connection-lost')).toBeVisible();
    second = await startAtelierServer(['--port', port], {}, first.home);
    await expect(page.getByTestId('connection-lost')).toBeHidden({ timeout: 30_000 });
    await expect(row).toHaveAttribute('data-state', 'interrupted');
    await expect(row).toContainText('interrupted');

    // Retry runs it again with its parameters; with fewer steps it would be a different job, so let it run a little and cancel.
    await row.getByTestId('job-retry').click();
    const again = page.getByTestId('queue-item').filter({ hasText: 'a green triangle' }).first();
    await expect(again).toHaveAttribute('data-state', 'running');
    await again.getByTestId('job-cancel').click();
    await expect(again).toHaveAttribute('data-state', 'cancelled');
    expect(errors).toEqual([]);
  } finally {
    if (second) await stopAtelierServer(second);
    else if (first.process.exitCode === null) await stopAtelierServer(first);
  }
});
