/**
 * Library work at studio scale, in Chromium against `atelier serve`: Ctrl+A / Esc, Delete to trash,
 * tags on a multi-selection, search by tag / seed / model / scheduler, thumbnail size, auto-advance
 * after a rating (stopping at the last image), project rename / archive / delete, each project once
 * in the switcher, moving images between projects with their files and lineage, and Export as a
 * browser download. Waits on data-* attributes only.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { openStudio } from './studio-actions';

async function newProject(page: Page, name: string): Promise<void> {
  await page.getByTestId('project-select').selectOption('__new');
  await page.getByTestId('project-name').fill(name);
  await page.getByTestId('project-create').click();
  await expect(page.getByTestId('project-select').locator('option:checked')).toHaveText(name);
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false');
}

async function generateSeed(page: Page, prompt: string, seed: number): Promise<void> {
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await page.getByTestId('prompt').fill(prompt);
  await page.getByTestId('seed').fill(String(seed));
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 1));
}

function pngsUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? pngsUnder(p) : name.endsWith('.png') ? [p] : [];
  });
}

const tile = (page: Page, prompt: string) => page.locator(`[data-testid="history-item"][title*="${prompt}"]`);

test('selection, culling, tags and search at scale: Ctrl+A/Esc, Delete, multi-tags, field search, thumb size, auto-advance', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);
  await newProject(page, 'Scale shoot');
  await page.getByTestId('steps').fill('2');
  const history = page.getByTestId('history');
  await generateSeed(page, 'a red fox in snow', 111);
  await generateSeed(page, 'a blue whale underwater', 222);
  await generateSeed(page, 'a grey cat on a roof', 333);
  await generateSeed(page, 'a green frog on a leaf', 444);
  const items = page.getByTestId('history-item');

  // Ctrl+A selects every image; Esc selects none (the viewer keeps its image).
  await tile(page, 'fox').click();
  await page.keyboard.press('Control+a');
  await expect(history).toHaveAttribute('data-selected-count', '4');
  await expect(page.locator('[data-testid="history-item"][data-selected="true"]')).toHaveCount(4);
  await page.keyboard.press('Escape');
  await expect(history).toHaveAttribute('data-selected-count', '0');
  await expect(tile(page, 'fox')).toHaveAttribute('data-viewing', 'true');
  // In a text field Ctrl+A still selects the text, not the images.
  await page.getByTestId('prompt').click();
  await page.keyboard.press('Control+a');
  await expect(history).toHaveAttribute('data-selected-count', '0');

  // Tags on a multi-selection: added to both, then removed from both.
  await tile(page, 'fox').click();
  await tile(page, 'whale').click({ modifiers: ['Control'] });
  const tags = page.getByTestId('tag-editor');
  await expect(tags).toHaveAttribute('data-mode', 'multi');
  await expect(tags).toHaveAttribute('data-count', '2');
  await page.getByTestId('tag-input').fill('hero');
  await page.getByTestId('tag-input').press('Enter');
  await expect(tags).toHaveAttribute('data-tags', 'hero');
  await expect(tags.locator('[data-tag="hero"]')).toHaveAttribute('data-on', '2');

  // Search by tag, seed (field or bare number), model and scheduler, besides prompt words.
  const search = page.getByTestId('history-search');
  await search.fill('#hero');
  await expect(history).toHaveAttribute('data-count', '2');
  await search.fill('tag:hero whale');
  await expect(history).toHaveAttribute('data-count', '1');
  await expect(items.first()).toHaveAttribute('title', /blue whale/);
  await search.fill('seed:333');
  await expect(history).toHaveAttribute('data-count', '1');
  await expect(items.first()).toHaveAttribute('data-seed', '333');
  await search.fill('444');
  await expect(history).toHaveAttribute('data-count', '1');
  await expect(items.first()).toHaveAttribute('data-seed', '444');
  await search.fill('model:demo');
  await expect(history).toHaveAttribute('data-count', '4');
  await search.fill('scheduler:ddim fox');
  await expect(history).toHaveAttribute('data-count', '1');
  await search.fill('scheduler:"euler a"');
  await expect(page.getByTestId('history-empty')).toBeVisible();
  await search.fill('');
  await expect(history).toHaveAttribute('data-count', '4');

  await tile(page, 'fox').click();
  await tile(page, 'whale').click({ modifiers: ['Control'] });
  await tags.locator('[data-tag="hero"]').getByTestId('tag-remove').click();
  await expect(tags).toHaveAttribute('data-tags', '');

  // Thumbnail size: 3, 2 or 1 columns, kept across a reload.
  await expect(history).toHaveAttribute('data-cols', '2');
  const mediumWidth = (await items.first().boundingBox())!.width;
  await page.getByTestId('thumb-size-small').click();
  await expect(history).toHaveAttribute('data-cols', '3');
  expect((await items.first().boundingBox())!.width).toBeLessThan(mediumWidth);
  await page.getByTestId('thumb-size-large').click();
  await expect(history).toHaveAttribute('data-cols', '1');
  expect((await items.first().boundingBox())!.width).toBeGreaterThan(mediumWidth);
  await page.reload();
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(history).toHaveAttribute('data-cols', '1');
  await page.getByTestId('thumb-size-medium').click();
  await expect(history).toHaveAttribute('data-cols', '2');
  await expect(history).toHaveAttribute('data-loading', 'false');

  // Auto-advance: a rating steps to the next image; on the last one it stays (no wrap to the first).
  const frog = tile(page, 'frog');
  const fox = tile(page, 'fox');
  await frog.click();
  await page.keyboard.press('3');
  await expect(frog).toHaveAttribute('data-rating', '3');
  await expect(tile(page, 'cat')).toHaveAttribute('data-viewing', 'true');
  await page.keyboard.press('4');
  await expect(tile(page, 'cat')).toHaveAttribute('data-rating', '4');
  await expect(tile(page, 'whale')).toHaveAttribute('data-viewing', 'true');
  await page.keyboard.press('5');
  await expect(fox).toHaveAttribute('data-viewing', 'true');
  await page.keyboard.press('2');
  await expect(fox).toHaveAttribute('data-rating', '2');
  await expect(fox).toHaveAttribute('data-viewing', 'true');
  await page.keyboard.press('1');
  await expect(fox).toHaveAttribute('data-rating', '1');
  await expect(frog).toHaveAttribute('data-rating', '3'); // never wrapped round to re-rate the first
  await expect(frog).toHaveAttribute('data-viewing', 'false');

  // Delete key: the selection goes to the trash in one step, with Undo.
  await tile(page, 'cat').click();
  await frog.click({ modifiers: ['Control'] });
  await page.keyboard.press('Delete');
  await expect(history).toHaveAttribute('data-count', '2');
  const toast = page.getByTestId('toast').filter({ hasText: 'Moved to trash' });
  await expect(toast).toContainText('2 images');
  await toast.getByTestId('toast-action').click();
  await expect(history).toHaveAttribute('data-count', '4');
  await fox.click();
  await page.keyboard.press('Delete');
  await expect(history).toHaveAttribute('data-count', '3');
  await page.getByTestId('trash-toggle').click();
  await expect(history).toHaveAttribute('data-trashed', 'true');
  await expect(history).toHaveAttribute('data-count', '1');
  await expect(items.first()).toHaveAttribute('title', /red fox/);
  await page.getByTestId('trash-toggle').click();
  expect(errors).toEqual([]);
});

test('projects in the studio: listed once, renamed, archived, deleted; images moved with their files and lineage', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);
  await newProject(page, 'Move source');
  await page.getByTestId('steps').fill('2');
  await generateSeed(page, 'a red fox in snow', 7);
  const history = page.getByTestId('history');
  // A child of the fox (same prompt, new seed, parent link).
  await tile(page, 'red fox').click({ button: 'right' });
  await page.getByTestId('menu-vary').click();
  await expect(history).toHaveAttribute('data-count', '2');
  await generateSeed(page, 'a grey cat on a roof', 9);
  await newProject(page, 'Move target');
  await newProject(page, 'Spare project');
  const select = page.getByTestId('project-select');
  await select.selectOption({ label: 'Move source' });
  await expect(select.locator('option:checked')).toHaveText('Move source');
  await expect(history).toHaveAttribute('data-count', '3');

  // Each project appears once in the switcher (the open one is not repeated under Recent or below).
  const values = await select.locator('option').evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value).filter((v) => !v.startsWith('__')));
  expect(new Set(values).size).toBe(values.length);

  // Move the fox and its child to "Move target".
  const foxes = tile(page, 'red fox');
  await foxes.nth(0).click();
  await foxes.nth(1).click({ modifiers: ['Control'] });
  const childId = (await foxes.nth(0).getAttribute('data-id'))!; // newest first: the child
  await foxes.nth(0).click({ button: 'right' });
  await page.getByTestId('menu-move').click();
  const dialog = page.getByTestId('move-dialog');
  await dialog.getByTestId('move-target').selectOption({ label: 'Move target' });
  await dialog.getByTestId('move-confirm').click();
  await expect(dialog).toHaveCount(0);
  await expect(history).toHaveAttribute('data-count', '1');
  await expect(page.getByTestId('toast').filter({ hasText: 'Moved to “Move target”' })).toContainText('2 images');

  const projectsDir = join(atelier.home, 'projects');
  expect(pngsUnder(join(projectsDir, 'Move source.atelier', 'images'))).toHaveLength(1);
  expect(pngsUnder(join(projectsDir, 'Move target.atelier', 'images'))).toHaveLength(2);

  await select.selectOption({ label: 'Move target' });
  await expect(history).toHaveAttribute('data-count', '2');
  await expect(history).toHaveAttribute('data-loading', 'false');
  await page.locator(`[data-testid="history-item"][data-id="${childId}"]`).click();
  if ((await page.getByTestId('toggle-lineage').getAttribute('aria-pressed')) !== 'true') await page.getByTestId('toggle-lineage').click();
  const lineage = page.getByTestId('lineage');
  await expect(lineage).toHaveAttribute('data-ready', 'true');
  await expect(lineage).toHaveAttribute('data-ancestors', '1');

  // Manage projects: rename the open one, archive and unarchive another, delete one by typing its name.
  await select.selectOption('__manage');
  const manage = page.getByTestId('projects-dialog');
  await expect(manage).toBeVisible();
  const row = (name: string) => manage.locator(`[data-testid="project-row"][data-name="${name}"]`);
  await row('Move target').getByTestId('project-rename').click();
  await manage.getByTestId('project-rename-input').fill('Client B final');
  await manage.getByTestId('project-rename-save').click();
  await expect(row('Client B final')).toHaveAttribute('data-current', 'true');
  await expect(select.locator('option:checked')).toHaveText('Client B final');

  await row('Spare project').getByTestId('project-archive').click();
  await expect(row('Spare project')).toHaveAttribute('data-archived', 'true');
  await expect(select.locator('option', { hasText: 'Spare project' })).toHaveCount(0);
  await row('Spare project').getByTestId('project-archive').click();
  await expect(row('Spare project')).toHaveAttribute('data-archived', 'false');
  await expect(select.locator('option', { hasText: 'Spare project' })).toHaveCount(1);

  await row('Move source').getByTestId('project-delete').click();
  const confirm = row('Move source').getByTestId('project-delete-confirm');
  await expect(confirm).toBeDisabled();
  await row('Move source').getByTestId('project-delete-name').fill('Move source');
  await confirm.click();
  await expect(row('Move source')).toHaveCount(0);
  await expect(select.locator('option', { hasText: 'Move source' })).toHaveCount(0);
  expect(readdirSync(projectsDir)).not.toContain('Move source.atelier');

  // Deleting the open project opens another one.
  await row('Client B final').getByTestId('project-delete').click();
  await row('Client B final').getByTestId('project-delete-name').fill('Client B final');
  await row('Client B final').getByTestId('project-delete-confirm').click();
  await expect(row('Client B final')).toHaveCount(0);
  await expect(select.locator('option:checked')).not.toHaveText('Client B final');
  await page.keyboard.press('Escape');
  await expect(manage).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('server mode: Export downloads the zip in the browser, nothing is written to the server\'s folders', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);
  await newProject(page, 'Export shoot');
  await page.getByTestId('steps').fill('2');
  await generateSeed(page, 'a yellow circle on purple', 1);
  await generateSeed(page, 'a red square on white', 2);
  const items = page.getByTestId('history-item');
  // Other specs of this worker may have written server-side exports: nothing new may appear there.
  const exportsDir = join(atelier.home, 'exports');
  const serverExports = () => (existsSync(exportsDir) ? readdirSync(exportsDir).sort() : []);
  const before = serverExports();
  await items.nth(0).click();
  await items.nth(1).click({ modifiers: ['Control'] });
  await page.getByTestId('export-selected').click();
  const dialog = page.getByTestId('export-dialog');
  await expect(dialog).toHaveAttribute('data-destination', 'download');
  await expect(dialog.getByTestId('export-path')).toHaveCount(0);
  const downloading = page.waitForEvent('download');
  await dialog.getByTestId('export-confirm').click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^Export shoot-\d{8}-\d{6}\.zip$/);
  const file = await download.path();
  const bytes = readFileSync(file);
  expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK');
  const names = bytes.toString('latin1');
  expect(names).toContain('manifest.json');
  expect(names.match(/\d{4}-[0-9A-Z]{26}\.png/g)?.length).toBeGreaterThanOrEqual(2);
  await expect(dialog).toHaveCount(0);
  expect(serverExports()).toEqual(before);
  expect(errors).toEqual([]);
});
