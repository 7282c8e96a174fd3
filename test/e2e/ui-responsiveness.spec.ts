import { test, expect } from './fixtures';

/**
 * The renderer must not block while a job streams previews: collect Long Tasks (>50 ms main-thread
 * tasks) from the click on Generate until the job is done.
 */
test('no long tasks while a job streams previews', async ({ page, atelier }) => {
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: number[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: false });
  });
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await page.getByTestId('prompt').fill('a quiet harbour at night, lanterns');
  await page.getByTestId('steps').fill('20');
  await page.evaluate(() => ((window as unknown as { __longTasks: number[] }).__longTasks.length = 0));
  await page.getByTestId('generate').click();
  const job = page.getByTestId('queue-item').filter({ hasText: 'a quiet harbour at night' });
  await expect(job).toHaveAttribute('data-state', 'done');
  expect(Number(await job.getAttribute('data-preview-step'))).toBeGreaterThan(0); // previews did stream
  const longTasks = await page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks);
  test.info().annotations.push({ type: 'long tasks (ms)', description: JSON.stringify(longTasks) });
  expect(longTasks.filter((d) => d > 50)).toEqual([]);
});
