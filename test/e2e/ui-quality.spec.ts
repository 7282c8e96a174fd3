/**
 * Issue #7 quality bar and the gaps the UI audit (docs/ui-checklist.md) closed: modal dialogs that
 * trap focus, close on Escape and give focus back; the history's trash (delete → restore, empty);
 * Space+drag panning over the mask brush and the brush's feather; recent projects.
 */
import { startAtelierServer, stopAtelierServer, test, expect } from './fixtures';
import { generate, openStudio } from './studio-actions';
import type { Locator, Page } from '@playwright/test';
import { screenshotPath } from './screenshots';

async function open(page: Page, url: string) {
  const errors = await openStudio(page, url);
  await page.getByTestId('steps').fill('2');
  return errors;
}

/** True when the focused element is inside `dialog`. */
function focusInside(dialog: Locator) {
  return dialog.evaluate((el) => el.contains(document.activeElement));
}

/** Presses Tab (or Shift+Tab) `n` times and checks focus never leaves the dialog. */
async function tabAround(page: Page, dialog: Locator, n: number, key = 'Tab') {
  for (let i = 0; i < n; i++) {
    await page.keyboard.press(key);
    expect(await focusInside(dialog)).toBe(true);
  }
}

test('dialogs are modal: focus moves in, Tab/Shift+Tab wrap inside, Escape closes and focus returns to the opener', async ({ page, atelier }) => {
  const errors = await open(page, atelier.url);
  await generate(page, 'a blue cube on a table');
  await page.getByTestId('history-item').first().click();

  // Export dialog, opened from the keyboard.
  const exportButton = page.getByTestId('export-selected');
  await exportButton.focus();
  await page.keyboard.press('Enter');
  const exportDialog = page.getByTestId('export-dialog');
  await expect(exportDialog).toHaveAttribute('aria-modal', 'true');
  // In the browser the export is a download: focus starts on its first field, the format.
  await expect(page.getByTestId('export-format')).toBeFocused();
  await tabAround(page, exportDialog, 8);
  // Keyboard focus is visible: the focus ring (box-shadow) is drawn on the focused control.
  expect(await page.evaluate(() => getComputedStyle(document.activeElement!).boxShadow)).not.toBe('none');
  await tabAround(page, exportDialog, 8, 'Shift+Tab');
  // Global single-key shortcuts stay off while a dialog is open (C would toggle Compare).
  await page.getByTestId('export-format').focus();
  await page.keyboard.press('Tab');
  await page.keyboard.press('c');
  await expect(page.getByTestId('app')).toHaveAttribute('data-mode', 'workspace');
  await page.keyboard.press('Escape');
  await expect(exportDialog).toHaveCount(0);
  await expect(exportButton).toBeFocused();

  // Variant explorer (V) and the models view.
  const variantsButton = page.getByTestId('open-variants');
  await variantsButton.focus();
  await page.keyboard.press('Enter');
  const explorer = page.getByTestId('variant-explorer');
  await expect(explorer).toHaveAttribute('aria-modal', 'true');
  expect(await focusInside(explorer)).toBe(true);
  await tabAround(page, explorer, 30);
  await page.keyboard.press('Escape');
  await expect(explorer).toHaveCount(0);
  await expect(variantsButton).toBeFocused();

  const modelsButton = page.getByTestId('open-models');
  await modelsButton.focus();
  await page.keyboard.press('Enter');
  const models = page.getByTestId('models-view');
  await expect(models).toBeVisible();
  await tabAround(page, models, 12, 'Shift+Tab');
  await page.keyboard.press('Escape');
  await expect(models).toHaveCount(0);
  await expect(modelsButton).toBeFocused();
  expect(errors).toEqual([]);
});

test('trash: delete moves an image to the trash, the trash view restores it, Empty trash deletes for good', async ({ page, atelier }) => {
  const errors = await open(page, atelier.url);
  await generate(page, 'a green pear, trash test');
  await generate(page, 'a yellow lemon, trash test');
  const history = page.getByTestId('history');
  const total = Number(await history.getAttribute('data-count'));
  const item = (text: string) => page.locator(`[data-testid="history-item"][title*="${text}"]`);
  // Other specs sharing this server may have left images in the trash: count relative to them.
  await page.getByTestId('trash-toggle').click();
  await expect(history).toHaveAttribute('data-trashed', 'true');
  await expect(history).toHaveAttribute('data-loading', 'false');
  const t0 = Number(await history.getAttribute('data-count'));
  await page.getByTestId('trash-toggle').click();
  await expect(history).toHaveAttribute('data-count', String(total));

  // Delete the pear: gone from the history, a toast says where it went.
  await item('green pear').click({ button: 'right' });
  await expect(page.getByTestId('menu-delete')).toContainText('to trash');
  await page.getByTestId('menu-delete').click();
  await expect(history).toHaveAttribute('data-count', String(total - 1));
  await expect(page.getByTestId('toast').filter({ hasText: 'Moved to trash' })).toBeVisible();

  // The trash view shows it; restore it from the context menu.
  await page.getByTestId('trash-toggle').click();
  await expect(history).toHaveAttribute('data-trashed', 'true');
  await expect(history).toHaveAttribute('data-loading', 'false');
  await expect(page.getByTestId('trash-bar')).toBeVisible();
  await expect(history).toHaveAttribute('data-count', String(t0 + 1));
  await item('green pear').click({ button: 'right' });
  await expect(page.getByTestId('menu-delete')).toHaveCount(0);
  await expect(page.getByTestId('menu-vary')).toHaveCount(0); // generating from a trashed image needs it restored first
  await expect(page.getByTestId('menu-copy')).toBeVisible();
  await page.getByTestId('menu-restore').click();
  await expect(history).toHaveAttribute('data-count', String(t0));
  if (t0 === 0) await expect(page.getByTestId('history-empty')).toContainText('trash is empty');
  await page.getByTestId('trash-toggle').click();
  await expect(history).toHaveAttribute('data-trashed', 'false');
  await expect(history).toHaveAttribute('data-count', String(total));
  await expect(item('green pear')).toHaveCount(1);

  // Delete the lemon, restore it with the bar's button, delete it again and empty the trash.
  await item('yellow lemon').click({ button: 'right' });
  await page.getByTestId('menu-delete').click();
  await page.getByTestId('trash-toggle').click();
  await expect(history).toHaveAttribute('data-count', String(t0 + 1));
  await expect(page.getByTestId('trash-restore')).toBeDisabled();
  await item('yellow lemon').click();
  await page.getByTestId('trash-restore').click();
  await expect(history).toHaveAttribute('data-count', String(t0));
  await page.getByTestId('trash-toggle').click();
  await expect(history).toHaveAttribute('data-count', String(total));
  await item('yellow lemon').click({ button: 'right' });
  await page.getByTestId('menu-delete').click();
  await page.getByTestId('trash-toggle').click();
  await expect(history).toHaveAttribute('data-count', String(t0 + 1));
  const empty = page.getByTestId('trash-empty');
  await empty.click();
  await expect(empty).toHaveAttribute('data-confirm', 'true');
  await empty.click();
  await expect(page.getByTestId('toast').filter({ hasText: 'Trash emptied' })).toBeVisible();
  await expect(history).toHaveAttribute('data-count', '0');
  await page.getByTestId('trash-toggle').click();
  await expect(history).toHaveAttribute('data-count', String(total - 1));
  await expect(item('yellow lemon')).toHaveCount(0);

  // The "Moved to trash" toast offers Undo.
  while ((await page.getByTestId('toast-dismiss').count()) > 0) await page.getByTestId('toast-dismiss').first().click();
  await item('green pear').click({ button: 'right' });
  await page.getByTestId('menu-delete').click();
  await expect(history).toHaveAttribute('data-count', String(total - 2));
  await page.getByTestId('toast').filter({ hasText: 'Moved to trash' }).getByTestId('toast-action').click();
  await expect(history).toHaveAttribute('data-count', String(total - 1));
  await expect(item('green pear')).toHaveCount(1);
  expect(errors).toEqual([]);
});

test('mask brush: feather next to the brush size, Space+drag pans over the mask without painting', async ({ page, atelier }) => {
  const errors = await open(page, atelier.url);
  await generate(page, 'a white vase, mask pan test');
  await page.getByTestId('history-item').first().click();
  await page.getByTestId('viewer').getByTestId('use-as-init').click();
  await page.getByTestId('mask-toggle').click();
  const canvas = page.getByTestId('mask-canvas');
  await expect(canvas).toBeVisible();

  // Feather is the init panel's mask blur, reachable where the brush is.
  await page.getByTestId('mask-feather').fill('12');
  await expect(page.getByTestId('mask-blur')).toHaveValue('12');

  // Hold Space over the stage and drag across the mask: the image moves, nothing is painted.
  const before = (await canvas.boundingBox())!;
  await page.mouse.move(before.x + before.width / 2, before.y + before.height / 2);
  await page.keyboard.down(' ');
  await expect(page.getByTestId('viewer-stage')).toHaveAttribute('data-space', 'true');
  await page.mouse.down();
  await page.mouse.move(before.x + before.width / 2 + 60, before.y + before.height / 2 + 30, { steps: 4 });
  await page.mouse.up();
  await page.keyboard.up(' ');
  await expect(page.getByTestId('viewer-stage')).not.toHaveAttribute('data-space', 'true');
  const after = (await canvas.boundingBox())!;
  expect(Math.round(after.x - before.x)).toBe(60);
  expect(Math.round(after.y - before.y)).toBe(30);
  await expect(canvas).toHaveAttribute('data-painted', 'false');

  // From the keyboard: focus the mask, Enter puts the pen down, arrows paint, Enter lifts it.
  const viewing = await page.getByTestId('viewer').getAttribute('data-viewing-id');
  await canvas.focus();
  await page.keyboard.press('ArrowLeft');
  await expect(page.getByTestId('mask-cursor')).toBeVisible();
  await page.keyboard.press('Enter');
  await expect(canvas).toHaveAttribute('data-pen', 'down');
  for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(canvas).toHaveAttribute('data-pen', 'up');
  await expect(canvas).toHaveAttribute('data-painted', 'true');
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-viewing-id', viewing!); // arrows stayed in the canvas
  await page.getByTestId('mask-clear').click();
  await expect(canvas).toHaveAttribute('data-painted', 'false');

  // Without Space the same drag paints.
  await page.mouse.move(after.x + after.width * 0.3, after.y + after.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(after.x + after.width * 0.7, after.y + after.height * 0.5, { steps: 4 });
  await page.mouse.up();
  await expect(canvas).toHaveAttribute('data-painted', 'true');
  await page.screenshot({ path: screenshotPath('inpaint.png') });
  expect(errors).toEqual([]);
});

test('project switcher lists recent projects first', async ({ page, atelier }) => {
  const errors = await open(page, atelier.url);
  const select = page.getByTestId('project-select');
  const first = (await select.locator('option:checked').textContent())!;
  await select.selectOption('__new');
  await page.getByTestId('project-name').fill('Recent test A');
  await page.getByTestId('project-create').click();
  await expect(select.locator('option:checked')).toHaveText('Recent test A');
  await select.selectOption('__new');
  await page.getByTestId('project-name').fill('Recent test B');
  await page.getByTestId('project-create').click();
  await expect(select.locator('option:checked')).toHaveText('Recent test B');

  // Most recent first, the current project not repeated. The list comes from the server, which this
  // worker shares with earlier specs, so projects they opened may follow: only the head is ours.
  const recent = page.getByTestId('project-recent').locator('option');
  await expect(recent.nth(0)).toHaveText('Recent test A');
  await expect(recent.nth(1)).toHaveText(first);
  await select.selectOption({ index: 2 }); // current, Recent: A, <first>
  await expect(select.locator('option:checked')).toHaveText(first);
  await expect(recent.nth(0)).toHaveText('Recent test B');
  await expect(recent.nth(1)).toHaveText('Recent test A');
  // After a reload the store starts empty: the order comes back from the server.
  await page.reload();
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(recent.nth(0)).toHaveText('Recent test B');
  await expect(recent.nth(1)).toHaveText('Recent test A');
  expect(errors).toEqual([]);
});

test('workspace controls: model family/size/provider, size presets, seed dice and lock, RNG, batch, per-chunk tokens, keyboard zoom, step counter and ETA', async ({ page, atelier }) => {
  const errors = await open(page, atelier.url);

  // Model picker: family, size on disk and the provider in use (known once the model has run).
  const info = page.getByTestId('model-info');
  await expect(info).toContainText('demo');
  await expect(info).toContainText(/\d+(\.\d)? MB/);

  // Size presets by aspect ratio: 16:9 is wider than tall, 1:1 square.
  await page.getByTestId('size-16x9').click();
  await expect(page.getByTestId('size-readout')).toContainText(/^\d+×\d+/);
  const w = Number(await page.getByTestId('width').inputValue());
  const h = Number(await page.getByTestId('height').inputValue());
  expect(w).toBeGreaterThan(h);
  await expect(page.getByTestId('size-16x9')).toHaveClass(/active/);
  await page.getByTestId('size-1x1').click();
  await expect(page.getByTestId('width')).toHaveValue(await page.getByTestId('height').inputValue());

  // Dice draws a seed and locks it; the lock toggles.
  await page.getByTestId('seed-dice').click();
  await expect(page.getByTestId('seed')).toHaveValue(/^\d+$/);
  await expect(page.getByTestId('seed-lock')).toHaveAttribute('aria-pressed', 'true');
  const seed = await page.getByTestId('seed').inputValue();

  // RNG kind and batch: two images with the GPU (Philox) noise, consecutive seeds.
  await page.getByTestId('rng').selectOption('cuda');
  await page.getByTestId('batch').fill('2');
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await page.getByTestId('prompt').fill('a small red cube, batch of two');
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 2));
  await expect(page.locator(`[data-testid="history-item"][data-seed="${seed}"]`).first()).toBeVisible();
  await expect(page.getByTestId('model-provider')).toHaveText(/^EP \w+/);
  await page.getByTestId('seed-lock').click();
  await expect(page.getByTestId('seed-lock')).toHaveAttribute('aria-pressed', 'false');
  await page.getByTestId('batch').fill('1');

  // Token count per 75-token chunk; BREAK starts a new chunk.
  const long = Array.from({ length: 80 }, () => 'word').join(' ');
  await page.getByTestId('prompt').fill(long);
  await expect(page.getByTestId('prompt-tokens')).toHaveText('80/150 · 75 + 5');
  await page.getByTestId('prompt').fill('a cat BREAK a dog');
  await expect(page.getByTestId('prompt-tokens')).toHaveAttribute('data-chunks', '2,2');

  // Keyboard zoom: + and − around the centre, F fits again.
  await page.getByTestId('history-item').first().click();
  const readout = page.getByTestId('zoom-readout');
  const fitText = (await readout.textContent())!;
  await page.keyboard.press('+');
  await expect(readout).not.toHaveText(fitText);
  const zoomedIn = parseInt((await readout.textContent())!, 10);
  expect(zoomedIn).toBeGreaterThan(parseInt(fitText, 10));
  await page.keyboard.press('-');
  await expect(readout).toHaveText(fitText);
  await page.keyboard.press('+');
  await page.keyboard.press('f');
  await expect(readout).toHaveText(fitText);

  // Live progress: a step counter and an ETA while a long job runs (then cancelled).
  await page.getByTestId('prompt').fill(`a long render for the step counter ${Date.now()}`);
  await page.getByTestId('width').fill('256');
  await page.getByTestId('height').fill('256');
  await page.getByTestId('steps').fill('500');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('step-counter')).toHaveText(/^Step [1-9]\d*\/500$/);
  await expect(page.getByTestId('eta')).toHaveText(/^ETA \d/);
  await page.getByTestId('queue-item').first().getByTestId('job-cancel').click();
  await expect(page.getByTestId('job-progress')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('copy parameters from the history menu puts A1111 text on the clipboard', async ({ page, context, atelier }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const errors = await open(page, atelier.url);
  await generate(page, 'a copper kettle, copy test');
  // From the keyboard: the menu opens on the focused tile and Escape gives the focus back to it.
  const tile = page.getByTestId('history-item').first();
  await tile.focus();
  await page.keyboard.press('Shift+F10');
  await expect(page.getByTestId('menu-vary')).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('context-menu')).toHaveCount(0);
  await expect(tile).toBeFocused();
  await page.getByTestId('history-item').first().click({ button: 'right' });
  await page.getByTestId('menu-copy').click();
  await expect(page.getByTestId('toast').filter({ hasText: 'Copied' })).toBeVisible();
  const text = await page.evaluate(() => navigator.clipboard.readText());
  expect(text).toContain('a copper kettle, copy test');
  expect(text).toMatch(/Steps: 2, .*Seed: \d+/);
  expect(errors).toEqual([]);
});

test('server stops: a banner says how to recover and actions fail with a toast instead of hanging', async ({ page }) => {
  const server = await startAtelierServer();
  try {
    const errors = await open(page, server.url);
    await expect(page.getByTestId('connection-lost')).toHaveCount(0);
    await stopAtelierServer(server);
    const banner = page.getByTestId('connection-lost');
    await expect(banner).toBeVisible();
    await expect(banner).toContainText('atelier serve');
    await page.getByTestId('prompt').fill('after the server stopped');
    await page.getByTestId('generate').click();
    await expect(page.getByTestId('toast').filter({ hasText: 'Connection to the Atelier server closed' }).first()).toBeVisible();
    expect(errors).toEqual([]);
  } finally {
    await stopAtelierServer(server);
  }
});

test('compare: Tab toggles labels while culling, Shift+Tab reaches the toolbar and Tab then moves focus', async ({ page, atelier }) => {
  const errors = await open(page, atelier.url);
  await generate(page, 'a teal bowl, compare keys A');
  await generate(page, 'a teal bowl, compare keys B');
  const items = page.getByTestId('history-item');
  await items.nth(0).click();
  await items.nth(1).click({ modifiers: ['Control'] });
  await page.getByTestId('compare-toggle').click();
  const compare = page.getByTestId('compare');
  await expect(compare).toHaveAttribute('data-count', '2');
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const labels = (await compare.getAttribute('data-labels'))!;
  await page.keyboard.press('Tab');
  await expect(compare).not.toHaveAttribute('data-labels', labels);
  await page.keyboard.press('Tab');
  await expect(compare).toHaveAttribute('data-labels', labels);
  // Into the controls: focus lands on a control, and Tab keeps moving it without toggling labels.
  await page.keyboard.press('Shift+Tab');
  expect(await page.evaluate(() => document.activeElement !== document.body)).toBe(true);
  const first = await page.evaluate(() => document.activeElement!.outerHTML);
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement!.outerHTML)).not.toBe(first);
  await expect(compare).toHaveAttribute('data-labels', labels);
  expect(errors).toEqual([]);
});
