import { existsSync, readdirSync } from 'node:fs';
import { test, expect } from './fixtures';
import { generate, openStudio } from './studio-actions';
import { screenshotPath } from './screenshots';

test('boards, tags and export: collect a selection on a board, filter by board and tag, export selected', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);
  await expect(page.getByTestId('boards')).toHaveAttribute('data-loaded', 'true');
  await expect(page.getByTestId('boards-empty')).toBeVisible();

  await page.getByTestId('steps').fill('2');
  await generate(page, 'a golden beach at sunset');
  await generate(page, 'a golden field of wheat');
  await generate(page, 'a grey rainy street');
  const history = page.getByTestId('history');
  const total = Number(await history.getAttribute('data-count'));
  const item = (text: string) => page.locator(`[data-testid="history-item"][title*="${text}"]`);

  // Select the two golden ones and make a board of them, from the keyboard.
  await item('beach').click();
  await item('wheat').click({ modifiers: ['Control'] });
  await expect(item('wheat')).toHaveAttribute('data-selected', 'true');
  await page.getByTestId('board-new').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('board-name-input').fill('Warm light');
  await page.keyboard.press('Enter');
  const board = page.getByTestId('board').filter({ hasText: 'Warm light' });
  await expect(board).toHaveAttribute('data-count', '2');

  // Filter by the board; back to all.
  await board.locator('.board-name').click();
  await expect(history).toHaveAttribute('data-board', (await board.getAttribute('data-board-id'))!);
  await expect(history).toHaveAttribute('data-count', '2');
  await expect(history).toHaveAttribute('data-loading', 'false');
  await page.getByTestId('board-all').click();
  await expect(history).toHaveAttribute('data-count', String(total));

  // Add one more (single selection), rename.
  await item('rainy').click();
  await board.getByTestId('board-add').click();
  await expect(board).toHaveAttribute('data-count', '3');
  await board.getByTestId('board-rename').click();
  await page.getByTestId('board-rename-input').fill('Golden hour');
  await page.keyboard.press('Enter');
  await expect(board).toHaveCount(0);
  const renamed = page.getByTestId('board').filter({ hasText: 'Golden hour' });
  await expect(renamed).toHaveAttribute('data-count', '3');

  // While showing the board, the context menu takes an image off it.
  await renamed.locator('.board-name').click();
  await expect(history).toHaveAttribute('data-count', '3');
  await item('rainy').click({ button: 'right' });
  await page.getByTestId('menu-remove-from-board').click();
  await expect(renamed).toHaveAttribute('data-count', '2');
  await expect(history).toHaveAttribute('data-count', '2');

  // Tags on the viewed image: add two, remove one, filter by the other.
  await item('beach').click();
  const tags = page.getByTestId('tag-editor');
  await expect(tags).toHaveAttribute('data-id', (await item('beach').getAttribute('data-id'))!);
  await page.getByTestId('tag-input').fill('keeper');
  await page.getByTestId('tag-input').press('Enter');
  await page.getByTestId('tag-input').fill('warm');
  await page.getByTestId('tag-input').press('Enter');
  await expect(tags).toHaveAttribute('data-tags', 'keeper,warm');
  // Screenshot without the info toasts covering the tag editor.
  while ((await page.getByTestId('toast-dismiss').count()) > 0) await page.getByTestId('toast-dismiss').first().click();
  await page.screenshot({ path: screenshotPath('boards.png') });
  await tags.locator('[data-tag="warm"]').getByTestId('tag-remove').click();
  await expect(tags).toHaveAttribute('data-tags', 'keeper');
  await page.getByTestId('board-all').click();
  await expect(history).toHaveAttribute('data-count', String(total));
  await tags.locator('[data-tag="keeper"]').getByTestId('tag-filter').click();
  await expect(history).toHaveAttribute('data-tag', 'keeper');
  await expect(history).toHaveAttribute('data-count', '1');
  await page.getByTestId('filter-tag-clear').click();
  await expect(history).toHaveAttribute('data-count', String(total));
  // Or typed, without viewing a tagged image first.
  await page.getByTestId('filter-tag-input').fill('keeper');
  await page.getByTestId('filter-tag-input').press('Enter');
  await expect(page.getByTestId('filter-tag')).toHaveAttribute('data-tag', 'keeper');
  await expect(history).toHaveAttribute('data-count', '1');
  await page.getByTestId('filter-tag-clear').click();
  await expect(history).toHaveAttribute('data-count', String(total));

  // Export the selection: a toast names the path and the count, and the files are there.
  await item('beach').click();
  await item('rainy').click({ modifiers: ['Control'] });
  await expect(page.getByTestId('export-selected')).toHaveText('Export 2…');
  await page.getByTestId('export-selected').click();
  const dialog = page.getByTestId('export-dialog');
  const to = `${atelier.home}/exports/two-images`;
  // In the browser the default is a .zip download (ui-library-scale); this one writes on the server.
  await dialog.getByTestId('export-dest-server').click();
  await dialog.getByTestId('export-path').fill(to);
  await dialog.getByTestId('export-confirm').click();
  await expect(dialog).toHaveCount(0);
  const toast = page.getByTestId('toast').filter({ hasText: 'Exported 2 images' });
  await expect(toast).toContainText(to);
  expect(existsSync(to)).toBe(true);
  expect(readdirSync(to).filter((f) => f.endsWith('.png'))).toHaveLength(2);

  // A board's deletion asks once more; its images stay.
  await renamed.getByTestId('board-delete').click();
  await renamed.getByTestId('board-delete-confirm').click();
  await expect(page.getByTestId('boards-empty')).toBeVisible();
  await expect(history).toHaveAttribute('data-count', String(total));
  expect(errors).toEqual([]);
});
