import { test, expect } from './fixtures';
import { generate, openStudio } from './studio-actions';

test('reveal: from the queue and the context menu, an image hidden by a search is selected, shown and focused', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);
  await page.getByTestId('steps').fill('2');
  await generate(page, 'a copper kettle on a stove');
  await generate(page, 'a paper boat on a pond');
  const history = page.getByTestId('history');
  const kettle = page.locator('[data-testid="history-item"][title*="copper kettle"]');
  const kettleId = (await kettle.getAttribute('data-id'))!;

  // A search hides the kettle; the queue's "show result" brings it back, selected and in view.
  await page.getByTestId('history-search').fill('boat');
  await expect(history).toHaveAttribute('data-count', '1');
  await page.getByTestId('queue-item').filter({ hasText: 'copper kettle' }).getByTestId('job-view').click();
  await expect(page.getByTestId('history-search')).toHaveValue('');
  await expect(kettle).toHaveAttribute('data-selected', 'true');
  await expect(kettle).toBeFocused();
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-viewing-id', kettleId);

  // From compare mode, the context menu's Reveal goes back to the workspace with it shown.
  const boat = page.locator('[data-testid="history-item"][title*="paper boat"]');
  await boat.click({ modifiers: ['Control'] });
  await page.keyboard.press('c');
  await expect(page.getByTestId('app')).toHaveAttribute('data-mode', 'compare');
  await boat.click({ button: 'right' });
  // The menu is keyboard-driven too: ↓ walks the items (not the history), Enter picks one.
  await expect(page.getByTestId('menu-vary')).toBeFocused();
  for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowDown');
  await expect(page.getByTestId('menu-reveal')).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('context-menu')).toHaveCount(0);
  await expect(page.getByTestId('app')).toHaveAttribute('data-mode', 'workspace');
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-viewing-id', (await boat.getAttribute('data-id'))!);
  await expect(boat).toHaveAttribute('data-selected', 'true');
  await expect(kettle).toHaveAttribute('data-selected', 'false');
  expect(errors).toEqual([]);
});

test('upscale 2× from the context menu: a queued job whose result is a twice-as-large child, shown when done', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);
  await page.getByTestId('steps').fill('2');
  await generate(page, 'a lantern in fog');
  const source = page.locator('[data-testid="history-item"][title*="lantern in fog"]').first();
  const sourceId = (await source.getAttribute('data-id'))!;
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));

  await source.click({ button: 'right' });
  await expect(page.getByTestId('menu-upscale')).toContainText('128×128');
  await page.getByTestId('menu-upscale').click();
  await expect(page.getByTestId('queue-item').filter({ hasText: 'Upscale 2×' }).first()).toHaveAttribute('data-state', 'done');
  await expect(history).toHaveAttribute('data-count', String(before + 1));
  const childId = (await page.getByTestId('history-item').first().getAttribute('data-id'))!;
  expect(childId).not.toBe(sourceId);
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-viewing-id', childId);
  await expect(page.getByTestId('viewer-meta')).toContainText('128×128');
  if ((await page.getByTestId('toggle-lineage').getAttribute('aria-pressed')) !== 'true') await page.getByTestId('toggle-lineage').click();
  await expect(page.getByTestId('lineage')).toHaveAttribute('data-ready', 'true');
  await expect(page.getByTestId('lineage-node').first()).toHaveAttribute('data-id', sourceId);

  // Upscale 4× sits next to it and is reached from the keyboard: ↓ from Vary, Enter. (The 2× child
  // now comes first with the same prompt: address the source by id.)
  await page.locator(`[data-testid="history-item"][data-id="${sourceId}"]`).click({ button: 'right' });
  await expect(page.getByTestId('menu-vary')).toBeFocused();
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
  await expect(page.getByTestId('menu-upscale-4')).toBeFocused();
  await expect(page.getByTestId('menu-upscale-4')).toContainText('256×256');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('queue-item').filter({ hasText: 'Upscale 4×' }).first()).toHaveAttribute('data-state', 'done');
  await expect(history).toHaveAttribute('data-count', String(before + 2));
  await expect(page.getByTestId('viewer-meta')).toContainText('256×256');
  expect(errors).toEqual([]);
});
