import { test, expect } from './fixtures';
import { a1111Png, dropPng } from './studio-actions';

test('import: dropping an image with A1111 metadata offers its settings and loads them', async ({ page, atelier }) => {
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false'); // first page in
  const png = a1111Png(
    'a misty forest at dawn, volumetric light\nNegative prompt: blurry\nSteps: 7, Sampler: Euler a, CFG scale: 6.5, Seed: 4242, Size: 64x64, Model: whatever',
  );
  await dropPng(page, png, 'forest.png');

  const offer = page.getByTestId('import-offer');
  await expect(offer).toBeVisible();
  await expect(offer).toContainText('a misty forest at dawn');
  await page.getByTestId('import-apply').click();
  await expect(offer).toBeHidden();
  await expect(page.getByTestId('prompt')).toHaveValue('a misty forest at dawn, volumetric light');
  await expect(page.getByTestId('negative-prompt')).toHaveValue('blurry');
  await expect(page.getByTestId('steps')).toHaveValue('7');
  await expect(page.getByTestId('cfg')).toHaveValue('6.5');
  await expect(page.getByTestId('seed')).toHaveValue('4242');
  await expect(page.getByTestId('seed-lock')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('scheduler')).toHaveValue('EulerAncestralDiscreteScheduler');

  // The imported settings generate like any others.
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 1));
  await expect(page.getByTestId('history-item').first()).toHaveAttribute('data-seed', '4242');
});
