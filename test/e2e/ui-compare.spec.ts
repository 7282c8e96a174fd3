import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';
import { screenshotPath } from './screenshots';

async function generateWithSeed(page: Page, seed: number) {
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await page.getByTestId('seed').fill(String(seed)); // typing a seed locks it
  await expect(page.getByTestId('seed-lock')).toHaveAttribute('aria-pressed', 'true');
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 1));
}

test('compare: three seeds side by side, labels show only the seed, keyboard rating', async ({ page, atelier }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false'); // first page in
  await page.getByTestId('prompt').fill('a glass of water on a wooden table, window light');
  await page.getByTestId('steps').fill('4');
  const seeds = [101, 202, 303];
  for (const seed of seeds) await generateWithSeed(page, seed);

  // Newest first: select the three we just made (click, then Ctrl-click).
  const items = page.getByTestId('history-item');
  await items.nth(0).click();
  await items.nth(1).click({ modifiers: ['Control'] });
  await items.nth(2).click({ modifiers: ['Control'] });
  await expect(page.locator('[data-testid="history-item"][data-selected="true"]')).toHaveCount(3);

  await page.keyboard.press('c');
  const compare = page.getByTestId('compare');
  await expect(compare).toHaveAttribute('data-count', '3');
  await expect(compare).toHaveAttribute('data-layout', 'grid');
  const tiles = page.getByTestId('compare-tile');
  await expect(tiles).toHaveCount(3);

  // Only the seed differs, so each label holds exactly one field: the seed.
  const labels = page.getByTestId('compare-label');
  await expect(labels).toHaveCount(3);
  for (let i = 0; i < 3; i++) {
    const fields = labels.nth(i).locator('[data-field]');
    await expect(fields).toHaveCount(1);
    await expect(fields).toHaveAttribute('data-field', 'seed');
  }
  const labelTexts = await labels.allTextContents();
  expect(labelTexts.map((t) => Number(t.replace(/\D/g, ''))).sort()).toEqual(seeds);
  await page.screenshot({ path: screenshotPath('compare.png') });

  // Keyboard culling: focus the second tile, rate 3 (focus steps on to the third), back, pick it.
  await page.keyboard.press('ArrowRight');
  await expect(tiles.nth(1)).toHaveAttribute('data-focused', 'true');
  const id = await tiles.nth(1).getAttribute('data-id');
  await page.keyboard.press('3');
  await expect(tiles.nth(1).getByTestId('tile-rating')).toHaveAttribute('data-rating', '3');
  await expect(page.locator(`[data-testid="history-item"][data-id="${id}"]`)).toHaveAttribute('data-rating', '3');
  await expect(tiles.nth(2)).toHaveAttribute('data-focused', 'true');
  // On the last tile a rating stays there: no wrap-around to the first.
  await page.keyboard.press('2');
  await expect(tiles.nth(2).getByTestId('tile-rating')).toHaveAttribute('data-rating', '2');
  await expect(tiles.nth(2)).toHaveAttribute('data-focused', 'true');
  await expect(tiles.nth(0).getByTestId('tile-rating')).toHaveAttribute('data-rating', '0');
  await page.keyboard.press('ArrowRight');
  await expect(tiles.nth(2)).toHaveAttribute('data-focused', 'true');
  await page.keyboard.press('ArrowLeft');
  await expect(tiles.nth(1)).toHaveAttribute('data-focused', 'true');
  await page.keyboard.press('p');
  await expect(page.locator(`[data-testid="history-item"][data-id="${id}"]`)).toHaveAttribute('data-flag', 'pick');

  // Synchronised zoom: wheel over one tile zooms all of them alike.
  const zoomBefore = await tiles.nth(0).locator('.stage').getAttribute('data-zoom');
  await tiles.nth(0).locator('.stage').hover();
  await page.mouse.wheel(0, -400);
  await expect(tiles.nth(0).locator('.stage')).not.toHaveAttribute('data-zoom', zoomBefore!);
  const zooms = await tiles.locator('.stage').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.zoom));
  expect(new Set(zooms).size).toBe(1);

  // Tab hides the labels.
  await page.keyboard.press('Tab');
  await expect(compare).toHaveAttribute('data-labels', 'false');
  await expect(labels).toHaveCount(0);

  // Two images: swipe mode.
  await page.keyboard.press('c');
  await items.nth(0).click();
  await items.nth(1).click({ modifiers: ['Control'] });
  await page.getByTestId('compare-toggle').click();
  await expect(compare).toHaveAttribute('data-count', '2');
  await page.getByTestId('layout-swipe').click();
  await expect(page.getByTestId('compare-swipe')).toBeVisible();
  await expect(page.getByTestId('swipe-slider')).toBeVisible();

  // Winner stays: the right image wins the only round and is flagged as a pick.
  await page.getByTestId('layout-ab').click();
  const ab = page.getByTestId('compare-ab');
  await expect(ab).toHaveAttribute('data-round', '1');
  const rightId = await page.locator('[data-testid="compare-tile"][data-side="right"]').getAttribute('data-id');
  await page.keyboard.press('ArrowRight');
  await expect(ab).toHaveAttribute('data-done', 'true');
  await expect(ab).toHaveAttribute('data-champion', rightId!);
  await expect(page.locator(`[data-testid="history-item"][data-id="${rightId}"]`)).toHaveAttribute('data-flag', 'pick');

  // Loupe: hovering one tile magnifies the same spot in every tile.
  await page.getByTestId('layout-side').click();
  await page.keyboard.press('l');
  await page.getByTestId('compare-tile').first().locator('.stage').hover();
  await expect(page.getByTestId('loupe')).toHaveCount(2);
});
