import { test, expect } from './fixtures';
import { generate } from './studio-actions';

test('library: search history, rate and filter, vary from the context menu, switch project', async ({ page, atelier }) => {
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false'); // first page in
  await page.getByTestId('steps').fill('3');
  const history = page.getByTestId('history');
  const total = Number(await history.getAttribute('data-count')) + 2;
  await generate(page, 'a red fox in snow');
  await generate(page, 'a blue whale underwater');

  // Instant search.
  await page.getByTestId('history-search').fill('whale');
  await expect(page.getByTestId('history')).toHaveAttribute('data-count', '1');
  await expect(page.getByTestId('history-item').first()).toHaveAttribute('title', /blue whale/);
  await page.getByTestId('history-search').fill('');
  await expect(history).toHaveAttribute('data-count', String(total));
  await expect(page.locator('[data-testid="history-item"][title*="red fox"]')).toHaveCount(1);

  // Rate the viewed image with the keyboard, then filter by rating.
  const fox = page.locator('[data-testid="history-item"][title*="red fox"]');
  await fox.click();
  await page.keyboard.press('4');
  await expect(fox).toHaveAttribute('data-rating', '4');
  await page.getByTestId('filter-rating').selectOption('4');
  await expect(page.getByTestId('history')).toHaveAttribute('data-count', '1');
  await expect(page.getByTestId('history-item').first()).toHaveAttribute('data-rating', '4');
  await page.getByTestId('filter-rating').selectOption('0');
  await expect(history).toHaveAttribute('data-count', String(total));

  // Context menu: vary makes a child with the same prompt and a new seed.
  const count = total;
  await fox.click({ button: 'right' });
  await page.getByTestId('menu-vary').click();
  await expect(page.getByTestId('history')).toHaveAttribute('data-count', String(count + 1));
  await expect(page.locator('[data-testid="history-item"][title*="red fox"]')).toHaveCount(2);

  // A new project starts with an empty history.
  await page.getByTestId('project-select').selectOption('__new');
  await page.getByTestId('project-name').fill('Second shoot');
  await page.getByTestId('project-create').click();
  await expect(page.getByTestId('history-empty')).toBeVisible();
  await expect(page.getByTestId('project-select').locator('option:checked')).toHaveText('Second shoot');
});
