import { test, expect } from './fixtures';
import { openStudio } from './studio-actions';
import type { Locator, Page } from '@playwright/test';
import { screenshotPath } from './screenshots';

/** Drags from the centre of `handle` by (dx, dy) image pixels of the frame. */
async function dragBy(page: Page, frame: Locator, handle: Locator, dx: number, dy: number) {
  const f = (await frame.boundingBox())!;
  const scale = f.width / Number(await frame.getAttribute('data-width'));
  const b = (await handle.boundingBox())!;
  const x = b.x + b.width / 2;
  const y = b.y + b.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + (dx * scale) / 2, y + (dy * scale) / 2, { steps: 4 });
  await page.mouse.move(x + dx * scale, y + dy * scale, { steps: 4 });
  await page.mouse.up();
}

test('outpainting: move and resize the frame with mouse and keyboard, generate a grown image; fit and only-masked options', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);

  await page.getByTestId('prompt').fill('a small red house on a hill');
  await page.getByTestId('steps').fill('4');
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 1));
  const sourceId = (await page.getByTestId('history-item').first().getAttribute('data-id'))!;
  await page.getByTestId('history-item').first().click();
  await page.getByTestId('viewer').getByTestId('use-as-init').click();
  const chip = page.getByTestId('init-chip');
  await expect(chip).toHaveAttribute('data-generation-id', sourceId);

  // img2img fit and inpainting's "only masked area" (+ padding, once a mask is painted).
  await page.getByTestId('init-fit').selectOption('pad');
  await expect(page.getByTestId('only-masked')).toHaveCount(0);
  await page.getByTestId('mask-toggle').click();
  const canvas = page.getByTestId('mask-canvas');
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.6, { steps: 4 });
  await page.mouse.up();
  await expect(chip).toHaveAttribute('data-masked', 'true');
  await page.getByTestId('only-masked').check();
  await expect(page.getByTestId('only-masked-padding')).toHaveValue('32');

  // Outpaint: the frame starts one model step (32 px) wider on both sides; the mask tool goes away.
  await page.getByTestId('outpaint-toggle').click();
  await expect(page.getByTestId('mask-canvas')).toHaveCount(0);
  await expect(chip).toHaveAttribute('data-outpaint', 'true');
  const frame = page.getByTestId('outpaint-frame');
  await expect(frame).toHaveAttribute('data-width', '128');
  await expect(frame).toHaveAttribute('data-left', '32');
  await expect(frame).toHaveAttribute('data-right', '32');
  await expect(page.getByTestId('width')).toHaveValue('128');

  // Mouse: the right edge out by one step, then the whole frame one step left.
  await dragBy(page, frame, page.getByTestId('outpaint-handle-right'), 34, 0);
  await expect(frame).toHaveAttribute('data-right', '64');
  await expect(frame).toHaveAttribute('data-width', '160');
  await dragBy(page, frame, frame.locator('.outpaint-label'), -30, 0);
  await expect(frame).toHaveAttribute('data-left', '64');
  await expect(frame).toHaveAttribute('data-right', '32');

  // Keyboard: Shift+↓ grows the bottom, → moves right, Alt+← shrinks the left side.
  await frame.focus();
  await page.keyboard.press('Shift+ArrowDown');
  await expect(frame).toHaveAttribute('data-bottom', '32');
  await page.keyboard.press('ArrowRight');
  await expect(frame).toHaveAttribute('data-left', '32');
  await expect(frame).toHaveAttribute('data-right', '64');
  await page.keyboard.press('Alt+ArrowLeft');
  await expect(frame).toHaveAttribute('data-left', '0');
  // The numbers in the left panel are the same frame.
  await expect(page.getByTestId('outpaint-right')).toHaveValue('64');
  await page.getByTestId('outpaint-left').fill('32');
  await expect(frame).toHaveAttribute('data-left', '32');
  await expect(frame).toHaveAttribute('data-width', '160');
  await expect(frame).toHaveAttribute('data-height', '96');
  await expect(page.getByTestId('width')).toHaveValue('160');
  await expect(page.getByTestId('height')).toHaveValue('96');
  await page.getByTestId('outpaint-fill').selectOption('blur');
  await page.screenshot({ path: screenshotPath('outpaint.png') });

  // Generate: a 160×96 child of the source.
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 2));
  const child = page.getByTestId('history-item').first();
  await child.click();
  await expect(page.getByTestId('viewer-meta')).toContainText('160×96');
  if ((await page.getByTestId('toggle-lineage').getAttribute('aria-pressed')) !== 'true') await page.getByTestId('toggle-lineage').click();
  await expect(page.getByTestId('lineage')).toHaveAttribute('data-ready', 'true');
  await expect(page.getByTestId('lineage-node').first()).toHaveAttribute('data-id', sourceId);

  // Off again: back to the init image's own size.
  await page.getByTestId('history-item').nth(1).click();
  await page.getByTestId('outpaint-toggle').click();
  await expect(frame).toHaveCount(0);
  await expect(page.getByTestId('width')).toHaveValue('64');
  expect(errors).toEqual([]);
});
