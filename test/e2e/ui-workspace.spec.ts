import { test, expect } from './fixtures';
import { openStudio } from './studio-actions';
import { screenshotPath } from './screenshots';

test('workspace: type a prompt, generate, watch progress, find it in history, reload its parameters', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);
  await expect(page.getByTestId('execution-providers')).toContainText('cpu');
  await expect(page.getByTestId('viewer-empty')).toBeVisible();

  const prompt = 'a lighthouse on a cliff at dusk, 35mm photo';
  await page.getByTestId('prompt').fill(prompt);
  await expect(page.getByTestId('prompt-tokens')).toHaveText(/^\d+\/75/);
  await page.getByTestId('steps').fill('6');
  const before = await page.getByTestId('history').getAttribute('data-count');
  await page.getByTestId('generate').click();

  // The job streams progress to the end; the queue row keeps the last step it saw.
  const job = page.getByTestId('queue-item').filter({ hasText: prompt });
  await expect(job).toHaveCount(1);
  await expect(job).toHaveAttribute('data-state', 'done');
  await expect(job).toHaveAttribute('data-step', '6');
  await expect(job).toHaveAttribute('data-total', '6');
  const seed = await job.getAttribute('data-seed');
  expect(Number(seed)).toBeGreaterThanOrEqual(0);

  // The result lands at the top of the history and in the viewer, served by id.
  await expect(page.getByTestId('history')).toHaveAttribute('data-count', String(Number(before) + 1));
  const item = page.getByTestId('history-item').first();
  await expect(item).toHaveAttribute('data-seed', seed!);
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-showing', 'image');
  const viewer = page.getByTestId('viewer-stage').locator('img');
  await expect(viewer).toHaveAttribute('src', /\/image\//);
  await expect.poll(() => viewer.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
  await expect(page.getByTestId('viewer-meta')).toContainText(`seed ${seed}`);
  await page.screenshot({ path: screenshotPath('workspace.png') });

  // Zoom controls: 100% shows one image pixel per CSS pixel.
  await page.getByTestId('zoom-100').click();
  await expect(page.getByTestId('zoom-readout')).toHaveText('100%');
  await page.getByTestId('zoom-fit').click();

  // Double-click loads the parameters back into the form with the seed locked.
  await page.getByTestId('prompt').fill('something else entirely');
  await page.getByTestId('steps').fill('3');
  await item.dblclick();
  await expect(page.getByTestId('prompt')).toHaveValue(prompt);
  await expect(page.getByTestId('steps')).toHaveValue('6');
  await expect(page.getByTestId('seed')).toHaveValue(seed!);
  await expect(page.getByTestId('seed-lock')).toHaveAttribute('aria-pressed', 'true');

  // Ctrl+Enter from the prompt reproduces it with that seed.
  await page.getByTestId('prompt').press('Control+Enter');
  await expect(page.getByTestId('history')).toHaveAttribute('data-count', String(Number(before) + 2));
  await expect(page.getByTestId('history-item').first()).toHaveAttribute('data-seed', seed!);
  expect(errors).toEqual([]);
});

test('workspace: Ctrl+Up raises the weight of the selected prompt words', async ({ page, atelier }) => {
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false'); // first page in
  const box = page.getByTestId('prompt');
  await box.fill('a red cat');
  await box.evaluate((el: HTMLTextAreaElement) => el.setSelectionRange(2, 5));
  await box.press('Control+ArrowUp');
  await expect(box).toHaveValue('a (red:1.1) cat');
  await box.press('Control+ArrowUp');
  await expect(box).toHaveValue('a (red:1.2) cat');
  await box.press('Control+ArrowDown');
  await box.press('Control+ArrowDown');
  await expect(box).toHaveValue('a red cat');
});

test('workspace: cancel a job mid-run', async ({ page, atelier }) => {
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false'); // first page in
  // Large and long so the job is still running when the cancel lands (the demo model is fast).
  const prompt = `a very long render to cancel ${Date.now()}`;
  await page.getByTestId('prompt').fill(prompt);
  await page.getByTestId('width').fill('256');
  await page.getByTestId('height').fill('256');
  await page.getByTestId('steps').fill('500');
  await page.getByTestId('generate').click();
  const job = page.getByTestId('queue-item').filter({ hasText: prompt });
  await expect(job).toHaveAttribute('data-state', 'running');
  await expect(page.getByTestId('job-progress')).toBeVisible();
  await job.getByTestId('job-cancel').click();
  await expect(job).toHaveAttribute('data-state', 'cancelled');
  await expect(page.getByTestId('job-progress')).toHaveCount(0);
  expect(Number(await job.getAttribute('data-step'))).toBeLessThan(500);
  // A cancelled job can be retried from the queue.
  await expect(job.getByTestId('job-retry')).toBeVisible();
});
