/**
 * Issue 15: SIGKILL of the engine process in the middle of a job leaves the studio usable — the job
 * shows as failed with the reason, the job queued behind it still runs, and a new generation works.
 * Runs its own server (the engine it kills is that server's child process).
 */
import { test, expect } from '@playwright/test';
import { startAtelierServer, stopAtelierServer, type AtelierServer } from './fixtures';
import { generate, openStudio } from './studio-actions';
import { theEngineProcess } from '../helpers/engine-process';

let server: AtelierServer;
test.beforeAll(async () => {
  server = await startAtelierServer();
});
test.afterAll(async () => {
  await stopAtelierServer(server);
});

test('engine crash: the running job fails visibly, the queued one and the next one succeed', async ({ page }) => {
  const errors = await openStudio(page, server.url);
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));

  // A long job holds the engine; a short one waits behind it.
  await page.getByTestId('prompt').fill('a long render that loses its engine');
  await page.getByTestId('width').fill('256');
  await page.getByTestId('height').fill('256');
  await page.getByTestId('steps').fill('500');
  await page.getByTestId('generate').click();
  const long = page.getByTestId('queue-item').filter({ hasText: 'loses its engine' });
  await expect(long).toHaveAttribute('data-state', 'running');
  await expect.poll(async () => Number(await long.getAttribute('data-step')), { timeout: 60_000 }).toBeGreaterThanOrEqual(2);

  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  await page.getByTestId('steps').fill('3');
  await page.getByTestId('prompt').fill('queued behind the crash');
  await page.getByTestId('generate').click();
  const queued = page.getByTestId('queue-item').filter({ hasText: 'queued behind the crash' });
  await expect(queued).toHaveAttribute('data-state', 'queued');

  // The kernel's OOM killer, or a native abort, looks like this to the server.
  const enginePid = await theEngineProcess(server.process.pid!);
  process.kill(enginePid, 'SIGKILL');

  await expect(long).toHaveAttribute('data-state', 'failed');
  await expect(long).toContainText('The engine stopped: it was killed (SIGKILL');
  await expect(queued).toHaveAttribute('data-state', 'done', { timeout: 90_000 });
  await expect(history).toHaveAttribute('data-count', String(before + 1));

  // The studio is still fully usable, on a new engine process.
  await generate(page, 'a small yellow circle at the top on a purple background');
  await expect(history).toHaveAttribute('data-count', String(before + 2));
  const newPid = await theEngineProcess(server.process.pid!);
  expect(newPid).not.toBe(enginePid);
  expect(server.process.exitCode).toBeNull();
  expect(errors).toEqual([]);
});
