/**
 * The studio as a render-farm coordinator: a real redis-server of the test's own, `atelier serve
 * --farm redis://… --local-worker` (the studio's engine is the farm's one worker, named
 * `<hostname>-studio`), Chromium. The Farm panel lists the worker with its provider, idle/busy and
 * jobs done; a job's queue row names the worker that ran it. Waits are on the UI's data-* state.
 */
import { hostname } from 'node:os';
import { test, expect, startAtelierServer, stopAtelierServer, type AtelierServer } from './fixtures';
import { generate, openStudio } from './studio-actions';
import { screenshotPath } from './screenshots';
import { startRedisServer } from '../helpers/redis-server';

test('farm: the Farm panel lists the local worker; a job runs on it and its queue row says so', async ({ page }) => {
  const redis = await startRedisServer();
  let server: AtelierServer | null = null;
  try {
    server = await startAtelierServer(['--farm', redis.url, '--local-worker', '--no-a1111', '--no-comfy']);
    const errors = await openStudio(page, server.url, { width: 1440, height: 1080 });
    // `atelier serve --local-worker` names its worker after the machine; a fresh home's provider setting is `auto`.
    const name = `${hostname()}-studio`;

    const panel = page.getByTestId('farm-panel');
    await expect(panel).toBeVisible();
    await expect(panel).toContainText(redis.url.replace(/^redis:\/\//, ''));
    await expect(panel.getByTestId('farm-worker')).toHaveCount(1);
    const worker = panel.locator(`[data-testid="farm-worker"][data-worker="${name}"]`);
    await expect(worker.getByTestId('farm-worker-name')).toHaveText(name);
    await expect(worker.getByTestId('farm-worker-provider')).toHaveText('auto');
    await expect(worker.getByTestId('farm-worker-state')).toHaveText('idle');
    await expect(worker).toHaveAttribute('data-jobs-done', '0');
    await expect(worker.getByTestId('farm-worker-jobs')).toHaveText('0 done');

    // A small, quick job goes through Redis to the worker and lands in the history.
    await page.getByTestId('width').fill('64');
    await page.getByTestId('height').fill('64');
    await page.getByTestId('steps').fill('2');
    await generate(page, 'a red square on the farm');
    const quick = page.getByTestId('queue-item').filter({ hasText: 'a red square on the farm' });
    await expect(quick).toHaveAttribute('data-state', 'done');
    await expect(quick.getByTestId('job-worker')).toHaveText(`· on ${name}`);
    await expect(worker).toHaveAttribute('data-jobs-done', '1');
    await expect(worker.getByTestId('farm-worker-jobs')).toHaveText('1 done');
    await expect(worker.getByTestId('farm-worker-state')).toHaveText('idle');

    // A long job: while it runs the worker shows busy and the running row names it; cancelled, the worker is idle again.
    await page.getByTestId('width').fill('256');
    await page.getByTestId('height').fill('256');
    await page.getByTestId('steps').fill('500');
    await page.getByTestId('prompt').fill('a long render held by the farm worker');
    await page.getByTestId('generate').click();
    const long = page.getByTestId('queue-item').filter({ hasText: 'a long render held by the farm worker' });
    await expect(long).toHaveAttribute('data-state', 'running');
    await expect(long.getByTestId('job-worker')).toHaveText(`· on ${name}`);
    await expect(worker).toHaveAttribute('data-busy', 'true');
    await expect(worker.getByTestId('farm-worker-state')).toHaveText('busy');
    await page.screenshot({ path: screenshotPath('farm.png') });
    await long.getByTestId('job-cancel').click();
    await expect(long).toHaveAttribute('data-state', 'cancelled');
    await expect(worker.getByTestId('farm-worker-state')).toHaveText('idle');
    await expect(worker).toHaveAttribute('data-jobs-done', '1'); // a cancelled job is not a job done
    expect(errors).toEqual([]);
  } finally {
    if (server) await stopAtelierServer(server);
    await redis.dispose();
  }
});
