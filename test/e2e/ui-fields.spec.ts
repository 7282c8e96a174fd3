import type { Locator, Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { openStudio } from './studio-actions';

/** What a user does: click into the field, select all, delete, type. (`fill()` would hide the bug.) */
async function retype(page: Page, field: Locator, text: string) {
  await field.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  await expect(field).toHaveValue('');
  if (text) await page.keyboard.type(text);
}

test('number fields: clear and retype, seed -1, errors next to the field, Generate says why', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);
  const width = page.getByTestId('width');
  const steps = page.getByTestId('steps');
  const cfg = page.getByTestId('cfg');
  const batch = page.getByTestId('batch');
  const seed = page.getByTestId('seed');
  const generate = page.getByTestId('generate');
  await expect(page.getByTestId('model-provider')).toHaveText(/EP /); // the demo model is selected and warm

  // Clearing really clears, and typing replaces (it used to give 64128, 2030, 1.317, 12).
  await retype(page, width, '128');
  await expect(width).toHaveValue('128');
  await expect(page.getByTestId('size-readout')).toContainText('128×');
  await retype(page, steps, '30');
  await expect(steps).toHaveValue('30');
  await retype(page, cfg, '1.5');
  await expect(cfg).toHaveValue('1.5');
  await retype(page, batch, '2');
  await expect(batch).toHaveValue('2');
  await page.keyboard.press('Tab');
  for (const f of ['width', 'steps', 'cfg', 'batch']) await expect(page.getByTestId(`${f}-error`)).toHaveCount(0);
  await expect(generate).toBeEnabled();

  // An empty field is an error on blur, named next to the field; Generate is disabled with the reason.
  await retype(page, steps, '');
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('steps-error')).toHaveText('Steps is empty: it must be from 1 to 500.');
  await expect(steps).toHaveAttribute('aria-invalid', 'true');
  await expect(generate).toBeDisabled();
  await expect(page.getByTestId('generate-blocked')).toContainText('Steps is empty');
  await retype(page, steps, '3');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('steps-error')).toHaveCount(0);
  await expect(generate).toBeEnabled();

  // Out of range is never clamped into some other valid value: the text stays and says why.
  await retype(page, batch, '17');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('batch-error')).toHaveText('Batch must be from 1 to 16.');
  await expect(batch).toHaveValue('17');
  await expect(page.getByTestId('generate-blocked')).toContainText('Batch must be from 1 to 16.');

  // Width off the demo model's 32-pixel grid: shown on Enter, not silently rounded.
  await retype(page, width, '100');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('width-error')).toHaveText('Width must be a multiple of 32 for this model.');
  await expect(width).toHaveValue('100');
  await retype(page, width, '64');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('width-error')).toHaveCount(0);

  // Ctrl+Enter while a field holds an unconfirmed invalid value refuses too, and shows the error.
  await retype(page, batch, '0');
  await expect(page.getByTestId('batch-error')).toHaveText('Batch must be from 1 to 16.'); // already shown: it stays current
  await page.getByTestId('prompt').fill('a small red circle on a white background');
  const queued = await page.getByTestId('queue-item').count();
  await retype(page, cfg, '60');
  await expect(page.getByTestId('cfg-error')).toHaveCount(0); // not confirmed yet
  await page.keyboard.press('Control+Enter');
  await expect(page.getByTestId('cfg-error')).toHaveText('CFG must be from 0 to 50.');
  await expect(page.getByTestId('generate-blocked')).toContainText('CFG must be from 0 to 50.');
  await expect(page.getByTestId('queue-item')).toHaveCount(queued);

  // Seed: "-" can be typed, and -1 means a new random seed each run (the field shows "random").
  await retype(page, seed, '-1');
  await expect(seed).toHaveValue('-1');
  await page.keyboard.press('Tab');
  await expect(seed).toHaveValue('');
  await expect(seed).toHaveAttribute('placeholder', 'random');
  await expect(page.getByTestId('seed-lock')).toHaveAttribute('aria-pressed', 'false');
  await expect(page.getByTestId('seed-error')).toHaveCount(0);
  await retype(page, seed, '42');
  await expect(page.getByTestId('seed-lock')).toHaveAttribute('aria-pressed', 'true');

  // Fix the fields by typing; the run uses exactly what they show: two images at 3 steps, seed 42.
  await retype(page, cfg, '1.3');
  await retype(page, batch, '2');
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('generate-blocked')).toHaveCount(0);
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await generate.click();
  const job = page.getByTestId('queue-item').filter({ hasText: 'a small red circle on a white background' });
  await expect(job).toHaveAttribute('data-state', 'done');
  await expect(job).toHaveAttribute('data-total', '3');
  await expect(history).toHaveAttribute('data-count', String(before + 2));
  await expect(page.getByTestId('history-item').first()).toHaveAttribute('data-seed', /^4[23]$/);
  expect(errors).toEqual([]);
});
