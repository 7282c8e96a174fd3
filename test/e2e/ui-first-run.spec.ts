import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from './fixtures';
import { openStudio } from './studio-actions';

test('first run: provider chips agree with the model panel; demo hint with example prompts; empty prompt asks', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);

  // Header chips: a provider is "available" only when it can run; skipped ones carry the same
  // reason as the model panel's "faster provider(s) not used — why?".
  await expect(page.getByTestId('model-provider')).toHaveText(/^EP /); // the default model warmed up
  const chips = page.getByTestId('execution-providers').locator('[data-ep]');
  await expect(chips.first()).toBeVisible();
  const inUse = (await page.getByTestId('model-provider').textContent())!.replace(/^EP /, '');
  for (const chip of await chips.all()) {
    const name = (await chip.getAttribute('data-ep'))!;
    const state = await chip.getAttribute('data-state');
    if (name === inUse) expect(state).toBe('in-use');
    if (await chip.getAttribute('data-available') === 'true') expect(name === 'cpu' || state === 'in-use').toBe(true);
    const fallback = page.locator(`[data-testid="model-fallback"][data-provider="${name}"]`);
    if (state === 'unavailable') {
      await expect(fallback).toHaveAttribute('data-reason', (await chip.getAttribute('data-reason'))!);
      await expect(chip).toHaveAttribute('title', `${name}: ${await fallback.getAttribute('data-reason')}`);
    } else {
      await expect(fallback).toHaveCount(0);
    }
  }

  // A fresh project: the empty history says what the demo model draws and offers three prompts.
  await page.getByTestId('project-select').selectOption('__new');
  await page.getByTestId('project-name').fill('First run');
  await page.getByTestId('project-create').click();
  const hint = page.getByTestId('demo-hint');
  await expect(hint).toBeVisible();
  await expect(hint).toContainText('circle, square, triangle, ring or star');
  await expect(hint).toContainText('reflection');
  await expect(page.getByTestId('prompt')).toHaveAttribute('placeholder', /shape.*colour.*background.*light/);
  const examples = page.getByTestId('example-prompt');
  await expect(examples).toHaveCount(3);
  const second = (await examples.nth(1).textContent())!;
  await examples.nth(1).click();
  await expect(page.getByTestId('prompt')).toHaveValue(second);
  await expect(page.getByTestId('prompt')).toBeFocused();

  // An empty prompt asks inside the app first (no window.confirm): cancel, then confirm.
  page.on('dialog', (d) => {
    errors.push(`native dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('prompt').fill('');
  const queued = await page.getByTestId('queue-item').count();
  await page.getByTestId('generate').click();
  const ask = page.getByTestId('empty-prompt-confirm');
  await expect(ask).toBeVisible();
  await expect(page.getByTestId('queue-item')).toHaveCount(queued);
  await page.getByTestId('empty-prompt-cancel').click();
  await expect(ask).toHaveCount(0);
  await expect(page.getByTestId('prompt')).toBeFocused();
  await page.keyboard.press('Control+Enter');
  await expect(ask).toBeVisible();
  await page.getByTestId('empty-prompt-generate').click();
  await expect(ask).toHaveCount(0);
  await expect(page.getByTestId('history')).toHaveAttribute('data-count', '1');
  expect(errors).toEqual([]);
});

test('toasts: a repeated error counts up instead of stacking, and never covers a dialog', async ({ page, atelier }) => {
  // A short window: the export dialog, centred, reaches down to where the toasts sit.
  const errors = await openStudio(page, atelier.url, { width: 1000, height: 380 });
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await page.getByTestId('prompt').fill('a large red star on a blue background, lit from the left');
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 1));
  await page.getByTestId('history-item').first().click();

  // Export into a path under a plain file (in the test's own temporary home): it fails the same
  // way every time, and the dialog stays open for another try.
  writeFileSync(join(atelier.home, 'not-a-folder'), '');
  await page.getByTestId('export-selected').click();
  const dialog = page.getByTestId('export-dialog');
  await dialog.getByTestId('export-dest-server').click(); // the browser's default is a download
  await dialog.getByTestId('export-path').fill(join(atelier.home, 'not-a-folder', 'out'));
  const confirm = dialog.getByTestId('export-confirm');
  const toast = page.getByTestId('toast').filter({ hasText: 'Export failed' });
  for (let i = 1; i <= 3; i++) {
    await confirm.click();
    await expect(toast).toHaveAttribute('data-count', String(i));
    await expect(confirm).toBeEnabled();
  }
  await expect(toast).toHaveCount(1);
  await expect(toast).toHaveAttribute('data-kind', 'error');
  await expect(toast.getByTestId('toast-count')).toHaveText('×3');

  // The dialog is laid out above the toasts: no overlap with it or any of its controls.
  const t = (await toast.boundingBox())!;
  const overlaps = (b: { x: number; y: number; width: number; height: number }) =>
    b.x < t.x + t.width && t.x < b.x + b.width && b.y < t.y + t.height && t.y < b.y + b.height;
  await expect.poll(async () => overlaps((await dialog.boundingBox())!)).toBe(false);
  for (const control of await dialog.locator('button, input, select').all()) {
    if (await control.isVisible()) expect(overlaps((await control.boundingBox())!)).toBe(false);
  }
  await confirm.click({ trial: true }); // nothing on top of it

  // Errors stay until closed.
  await toast.getByTestId('toast-dismiss').click();
  await expect(page.getByTestId('toast')).toHaveCount(0);
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  expect(errors).toEqual([]);
});
