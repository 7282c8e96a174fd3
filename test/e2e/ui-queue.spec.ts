import { test, expect } from './fixtures';
import { openStudio } from './studio-actions';
import { screenshotPath } from './screenshots';

test('queue: reorder waiting jobs with buttons, keyboard and drag; they run in the new order', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url, { width: 1440, height: 1080 }); // tall enough to show the queue in the screenshot

  // A long job holds the engine so the others wait (the demo model is fast otherwise).
  await page.getByTestId('prompt').fill('a long render holding the queue');
  await page.getByTestId('width').fill('256');
  await page.getByTestId('height').fill('256');
  await page.getByTestId('steps').fill('500');
  await page.getByTestId('generate').click();
  const long = page.getByTestId('queue-item').filter({ hasText: 'holding the queue' });
  await expect(long).toHaveAttribute('data-state', 'running');
  await expect(long.getByTestId('job-up')).toHaveCount(0); // the running job cannot move

  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  await page.getByTestId('steps').fill('2');
  const ids: Record<string, string> = {};
  for (const name of ['alpha', 'bravo', 'charlie']) {
    await page.getByTestId('prompt').fill(`queued ${name}`);
    await page.getByTestId('generate').click();
    const row = page.getByTestId('queue-item').filter({ hasText: `queued ${name}` });
    await expect(row).toHaveAttribute('data-state', 'queued');
    ids[name] = (await row.getAttribute('data-job-id'))!;
  }
  const queue = page.getByTestId('queue');
  const order = (...names: string[]) => names.map((n) => ids[n]).join(',');
  await expect(queue).toHaveAttribute('data-waiting', order('alpha', 'bravo', 'charlie'));
  const row = (name: string) => page.locator(`[data-testid="queue-item"][data-job-id="${ids[name]}"]`);
  await expect(row('alpha').getByTestId('job-up')).toBeDisabled();
  await expect(row('charlie').getByTestId('job-down')).toBeDisabled();

  // Button: charlie one up.
  await row('charlie').getByTestId('job-up').click();
  await expect(queue).toHaveAttribute('data-waiting', order('alpha', 'charlie', 'bravo'));
  await expect(row('charlie')).toHaveAttribute('data-queue-index', '1');

  // Keyboard: focus charlie's "down" button, Alt+↑ moves it to the front.
  await row('charlie').getByTestId('job-down').focus();
  await page.keyboard.press('Alt+ArrowUp');
  await expect(queue).toHaveAttribute('data-waiting', order('charlie', 'alpha', 'bravo'));

  // Drag: bravo onto alpha's row takes alpha's place.
  await row('bravo').dragTo(row('alpha'));
  await expect(queue).toHaveAttribute('data-waiting', order('charlie', 'bravo', 'alpha'));
  await page.screenshot({ path: screenshotPath('queue.png') });

  // Release the engine: the three run in the order shown, so history lists them newest first.
  const before = Number(await page.getByTestId('history').getAttribute('data-count'));
  await long.getByTestId('job-cancel').click();
  await expect(page.getByTestId('history')).toHaveAttribute('data-count', String(before + 3));
  await expect(row('alpha')).toHaveAttribute('data-state', 'done');
  const titles = await page.getByTestId('history-item').evaluateAll((els) => els.slice(0, 3).map((e) => e.getAttribute('title') ?? ''));
  expect(titles.map((t) => /queued (\w+)/.exec(t)?.[1])).toEqual(['alpha', 'bravo', 'charlie']);
  expect(errors).toEqual([]);
});
