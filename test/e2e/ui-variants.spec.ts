import { test, expect } from './fixtures';
import { screenshotPath } from './screenshots';
import { generate, openStudio } from './studio-actions';

test('variant explorer: a lighting axis streams a grid that opens in Compare with prompt-word labels', async ({ page, atelier }) => {
  await openStudio(page, atelier.url);
  await page.getByTestId('steps').fill('4');
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await generate(page, 'a chrome teapot on a table');
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-showing', 'image');
  const sourceId = await page.getByTestId('history-item').first().getAttribute('data-id');

  await page.getByTestId('open-variants').click();
  const explorer = page.getByTestId('variant-explorer');
  await expect(explorer).toBeVisible();
  await page.getByTestId('variant-axis').selectOption('lighting');
  // Pick exactly golden hour + blue hour.
  for (const box of await page.getByTestId('variant-choice').all()) {
    const value = await box.getAttribute('data-value');
    await box.setChecked(value === 'golden hour' || value === 'blue hour');
  }
  await page.getByTestId('variant-run').click();
  const group = page.getByTestId('variant-group');
  await expect(group).toHaveAttribute('data-total', '2');
  await expect(group).toHaveAttribute('data-done', '2');
  await expect(page.locator('[data-testid="variant-cell"][data-state="done"] img')).toHaveCount(2);
  await page.screenshot({ path: screenshotPath('variants.png') });
  await expect(history).toHaveAttribute('data-count', String(before + 3));

  await page.getByTestId('variant-open-compare').click();
  await expect(explorer).toBeHidden();
  const compare = page.getByTestId('compare');
  await expect(compare).toHaveAttribute('data-count', '3');
  await expect(page.getByTestId('compare-tile').first()).toHaveAttribute('data-id', sourceId!);
  // Only the prompt differs: the variants' labels hold the added lighting words.
  const labels = page.getByTestId('compare-label');
  await expect(labels.nth(1).locator('[data-field]')).toHaveCount(1);
  await expect(labels.nth(1).locator('[data-kind="added"]')).toContainText(['+golden']);
  await expect(labels.nth(2).locator('[data-kind="added"]')).toContainText(['+blue']);
  await page.screenshot({ path: screenshotPath('variants-compare.png') });

  // Lineage of the source: its two variants, each edge labelled with the lighting it added.
  await page.getByTestId('compare-exit').click();
  await page.locator(`[data-testid="history-item"][data-id="${sourceId}"]`).click();
  await page.getByTestId('toggle-lineage').click();
  const lineage = page.getByTestId('lineage');
  await expect(lineage).toHaveAttribute('data-children', '2');
  await expect(lineage.getByTestId('lineage-edge')).toContainText(['golden hour', 'blue hour'].map(() => /\+(golden|blue) hour/));
  await page.screenshot({ path: screenshotPath('lineage.png') });

  // Back in the explorer, choose one variant from the keyboard: Compare gets the source and that one.
  await page.getByTestId('open-variants').click();
  const cells = page.getByTestId('variant-cell');
  await expect(cells).toHaveCount(2);
  await cells.nth(1).focus();
  await page.keyboard.press('Enter');
  await expect(cells.nth(1)).toHaveAttribute('aria-pressed', 'true');
  await expect(cells.nth(0)).toHaveAttribute('aria-pressed', 'false');
  await expect(page.getByTestId('variant-open-compare')).toHaveText('Open in Compare (2)');
  const chosenId = (await cells.nth(1).getAttribute('data-generation-id'))!;
  await page.getByTestId('variant-open-compare').click();
  await expect(compare).toHaveAttribute('data-count', '2');
  await expect(page.getByTestId('compare-tile').nth(0)).toHaveAttribute('data-id', sourceId!);
  await expect(page.getByTestId('compare-tile').nth(1)).toHaveAttribute('data-id', chosenId);
});

/** The PNG's embedded A1111 parameters text (tEXt chunks are stored uncompressed). */
async function pngText(page: import('@playwright/test').Page, id: string): Promise<string> {
  return page.evaluate(async (id) => new TextDecoder('latin1').decode(await (await fetch(new URL(`/image/${id}`, location.href))).arrayBuffer()), id);
}

test('variant explorer: lock composition runs the lighting grid as img2img from the source at the chosen strength', async ({ page, atelier }) => {
  await openStudio(page, atelier.url);
  await page.getByTestId('steps').fill('6');
  await generate(page, 'a red ball on a blue floor');
  const sourceId = (await page.getByTestId('history-item').first().getAttribute('data-id'))!;

  await page.getByTestId('open-variants').click();
  await page.getByTestId('variant-axis').selectOption('lighting');
  for (const box of await page.getByTestId('variant-choice').all()) await box.setChecked((await box.getAttribute('data-value')) === 'neon light');
  const group = page.getByTestId('variant-group');
  const cell = page.locator('[data-testid="variant-cell"][data-state="done"]');

  // Free: a new text-to-image run with the lighting words added.
  await expect(page.getByTestId('variant-lock-strength')).toBeDisabled();
  await page.getByTestId('variant-run').click();
  await expect(group).toHaveAttribute('data-done', '1');
  await expect(group).toHaveAttribute('data-locked', 'false');
  const freeId = (await cell.getAttribute('data-generation-id'))!;

  // Locked at a low strength: the same shot, relit.
  await page.getByTestId('variant-lock').check();
  await page.getByTestId('variant-lock-strength').fill('0.3');
  await page.getByTestId('variant-run').click();
  await expect(group).toHaveAttribute('data-locked', 'true');
  await expect(group).toContainText('composition locked (strength 0.30)');
  await expect(group).toHaveAttribute('data-done', '1');
  const lockedId = (await cell.getAttribute('data-generation-id'))!;
  expect(lockedId).not.toBe(freeId);

  // The locked variant was made as img2img at that strength (its PNG parameters say so); the free one was not.
  expect(await pngText(page, lockedId)).toContain('Denoising strength: 0.3');
  expect(await pngText(page, freeId)).not.toContain('Denoising strength');

  // Still a child of the source in the lineage.
  await page.keyboard.press('Escape');
  await page.locator(`[data-testid="history-item"][data-id="${lockedId}"]`).click();
  if ((await page.getByTestId('toggle-lineage').getAttribute('aria-pressed')) !== 'true') await page.getByTestId('toggle-lineage').click();
  await expect(page.getByTestId('lineage')).toHaveAttribute('data-ready', 'true');
  await expect(page.getByTestId('lineage-node').first()).toHaveAttribute('data-id', sourceId);
});

test('variant explorer: lighting replaces the light already in the prompt; lighting × reflection X/Y grid; kept with the source across a reload', async ({ page, atelier }) => {
  await openStudio(page, atelier.url);
  await page.getByTestId('steps').fill('4');
  await generate(page, 'a large white square on a black background, lit from the right');
  const sourceId = (await page.getByTestId('history-item').first().getAttribute('data-id'))!;

  await page.getByTestId('open-variants').click();
  await page.getByTestId('variant-axis').selectOption('lighting');
  // "lit from the top" is offered, and a custom light can be added.
  const lighting = page.locator('[data-testid="variant-choices"][data-axis="lighting"]');
  await expect(lighting.locator('[data-value="lit from the top"]')).toHaveCount(1);
  await page.locator('[data-testid="variant-custom"][data-axis="lighting"]').fill('lit from below');
  await page.locator('[data-testid="variant-custom-add"][data-axis="lighting"]').click();
  for (const box of await lighting.getByTestId('variant-choice').all()) {
    const value = await box.getAttribute('data-value');
    await box.setChecked(value === 'lit from the left' || value === 'lit from the top' || value === 'lit from below');
  }
  // Reflection as the second axis starts with its options ticked; keep two of them.
  await page.getByTestId('variant-axis2').selectOption('reflection');
  const reflection = page.locator('[data-testid="variant-choices"][data-axis="reflection"]');
  const reflectionBoxes = reflection.getByTestId('variant-choice');
  expect(await reflectionBoxes.count()).toBeGreaterThan(1);
  for (const box of await reflectionBoxes.all()) await expect(box).toBeChecked();
  for (const box of await reflectionBoxes.all()) {
    const value = await box.getAttribute('data-value');
    await box.setChecked(value === 'with a reflection on a glossy floor' || value === 'reflected in glass');
  }
  await expect(page.getByTestId('variant-total')).toContainText('6 variants');
  await page.getByTestId('variant-run').click();

  const group = page.getByTestId('variant-group');
  await expect(group).toHaveAttribute('data-columns', '3');
  await expect(group).toHaveAttribute('data-rows', '2');
  await expect(group).toHaveAttribute('data-done', '6');
  await expect(page.getByTestId('variant-x-label')).toHaveText(['lit from the left', 'lit from the top', 'lit from below']);
  await expect(page.getByTestId('variant-y-label')).toHaveText(['with a reflection on a glossy floor', 'reflected in glass']);
  const ids = await page.getByTestId('variant-cell').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-generation-id')));
  expect(ids.every(Boolean)).toBe(true);

  // Each variant's prompt has exactly one light and one reflection: the source's light was replaced.
  const prompts = await page.evaluate(async (ids) => {
    const out: string[] = [];
    for (const id of ids) {
      const text = new TextDecoder('latin1').decode(await (await fetch(new URL(`/image/${id}`, location.href))).arrayBuffer());
      out.push(/parameters\0([^\n]*)/.exec(text)?.[1] ?? '');
    }
    return out;
  }, ids as string[]);
  expect(prompts).toEqual([
    'a large white square on a black background, lit from the left, with a reflection on a glossy floor',
    'a large white square on a black background, lit from the top, with a reflection on a glossy floor',
    'a large white square on a black background, lit from below, with a reflection on a glossy floor',
    'a large white square on a black background, lit from the left, reflected in glass',
    'a large white square on a black background, lit from the top, reflected in glass',
    'a large white square on a black background, lit from below, reflected in glass',
  ]);

  // Reload: the explorer reopens on this source with the same grid and the same settings.
  await page.keyboard.press('Escape');
  await page.reload();
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false');
  await page.locator(`[data-testid="history-item"][data-id="${sourceId}"]`).click();
  await page.getByTestId('open-variants').click();
  await expect(page.getByTestId('variant-axis')).toHaveValue('lighting');
  await expect(page.getByTestId('variant-axis2')).toHaveValue('reflection');
  await expect(page.locator('[data-testid="variant-choice"][data-axis="lighting"][data-value="lit from below"]')).toBeChecked();
  await expect(page.locator('[data-testid="variant-choice"][data-axis="reflection"][data-value="reflected in glass"]')).toBeChecked();
  await expect(page.locator('[data-testid="variant-choice"][data-axis="reflection"][data-value="chrome reflections"]')).not.toBeChecked();
  await expect(group).toHaveAttribute('data-done', '6');
  await expect(page.locator('[data-testid="variant-cell"] img')).toHaveCount(6);
  expect(await page.getByTestId('variant-cell').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-generation-id')))).toEqual(ids);
  // And it still opens in Compare, with the source first.
  await page.getByTestId('variant-open-compare').click();
  await expect(page.getByTestId('compare')).toHaveAttribute('data-count', '7');
  await expect(page.getByTestId('compare-tile').first()).toHaveAttribute('data-id', sourceId);
});
