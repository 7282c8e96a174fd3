import { test, expect } from './fixtures';

type Probe = { tasks: { start: number; duration: number }[]; streamStart: number | null; streamEnd: number | null };

/**
 * The renderer must not block while a job streams previews: record Long Tasks (>50 ms main-thread
 * tasks) and the window during which the viewer shows a running job's progress, then assert that
 * no long task started inside that window.
 *
 * The bound is the 50 ms, on every machine (on this 2-core VM the run records no long task
 * at all, even with a training job in the background). ATELIER_LONG_TASK_MS overrides it for a
 * machine where a CPU-bound engine preempts the browser's main thread.
 */
test('no long tasks while a job streams previews', async ({ page, atelier }) => {
  await page.addInitScript(() => {
    const probe: Probe = { tasks: [], streamStart: null, streamEnd: null };
    (window as unknown as { __probe: Probe }).__probe = probe;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) probe.tasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: false });
    new MutationObserver(() => {
      const running = document.querySelector('[data-testid="job-progress"][data-state="running"]');
      if (running && probe.streamStart === null) probe.streamStart = performance.now();
      if (!running && probe.streamStart !== null && probe.streamEnd === null) probe.streamEnd = performance.now();
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
  });
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false'); // first page in
  await page.getByTestId('prompt').fill('a quiet harbour at night, lanterns');
  await page.getByTestId('steps').fill('40');
  await page.getByTestId('generate').click();
  const job = page.getByTestId('queue-item').filter({ hasText: 'a quiet harbour at night' });
  await expect(job).toHaveAttribute('data-state', 'done');
  expect(Number(await job.getAttribute('data-preview-step'))).toBeGreaterThan(0); // previews did stream
  const probe = await page.evaluate(() => (window as unknown as { __probe: Probe }).__probe);
  expect(probe.streamStart).not.toBeNull();
  const end = probe.streamEnd ?? Infinity;
  const during = probe.tasks.filter((t) => t.start >= probe.streamStart! && t.start < end).map((t) => Math.round(t.duration));
  test.info().annotations.push({ type: 'long tasks while streaming (ms)', description: JSON.stringify(during) });
  const bound = Number(process.env.ATELIER_LONG_TASK_MS ?? 50);
  expect(during.filter((d) => d > bound)).toEqual([]);
});
