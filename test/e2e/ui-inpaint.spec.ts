import { test, expect } from './fixtures';
import { openStudio } from './studio-actions';
import type { Page } from '@playwright/test';

/** Decodes /image/<id> in the page and returns its RGBA pixels. */
async function pixels(page: Page, id: string): Promise<{ w: number; h: number; data: number[] }> {
  return page.evaluate(async (id) => {
    const res = await fetch(new URL(`/image/${id}`, location.href));
    const bmp = await createImageBitmap(await res.blob());
    const c = document.createElement('canvas');
    c.width = bmp.width;
    c.height = bmp.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(bmp, 0, 0);
    return { w: bmp.width, h: bmp.height, data: [...ctx.getImageData(0, 0, bmp.width, bmp.height).data] };
  }, id);
}

test('inpainting: use as init image, paint a mask over the right half, generate a child that keeps the left half', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);

  // A source image.
  await page.getByTestId('prompt').fill('a red barn in a green field');
  await page.getByTestId('steps').fill('6');
  const before = Number(await page.getByTestId('history').getAttribute('data-count'));
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('history')).toHaveAttribute('data-count', String(before + 1));
  const sourceId = (await page.getByTestId('history-item').first().getAttribute('data-id'))!;

  // The context menu offers it as the init image: a chip with strength, the form takes its size.
  await page.getByTestId('history-item').first().click({ button: 'right' });
  await page.getByTestId('context-menu').getByTestId('use-as-init').click();
  const chip = page.getByTestId('init-chip');
  await expect(chip).toHaveAttribute('data-generation-id', sourceId);
  await expect(page.getByTestId('init-strength')).toHaveValue('0.6');
  await expect(page.getByTestId('width')).toHaveValue('64');
  await page.getByTestId('init-clear').click();
  await expect(chip).toHaveCount(0);

  // The viewer toolbar's button does the same for the shown image.
  await page.getByTestId('history-item').first().click();
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-viewing-id', sourceId);
  await page.getByTestId('viewer').getByTestId('use-as-init').click();
  await expect(chip).toHaveAttribute('data-generation-id', sourceId);
  await page.getByTestId('init-strength').fill('0.8');
  await page.getByTestId('mask-blur').fill('0');

  // Paint a stroke down the right half.
  await page.getByTestId('mask-toggle').click();
  const canvas = page.getByTestId('mask-canvas');
  await expect(canvas).toBeVisible();
  await expect(canvas).toHaveAttribute('width', '64');
  await page.getByTestId('mask-brush-size').fill('28');
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.75, box.y + 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 8 });
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height - 2, { steps: 8 });
  await page.mouse.up();
  await expect(canvas).toHaveAttribute('data-painted', 'true');
  await expect(chip).toHaveAttribute('data-masked', 'true');
  // Clear empties it; paint again.
  await page.getByTestId('mask-clear').click();
  await expect(chip).toHaveAttribute('data-masked', 'false');
  await page.mouse.move(box.x + box.width * 0.75, box.y + 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height - 2, { steps: 16 });
  await page.mouse.up();
  await expect(chip).toHaveAttribute('data-masked', 'true');

  await page.getByTestId('generate').click();
  await expect(page.getByTestId('history')).toHaveAttribute('data-count', String(before + 2));
  const child = page.getByTestId('history-item').first();
  const childId = (await child.getAttribute('data-id'))!;
  expect(childId).not.toBe(sourceId);

  // Lineage: the source is its parent.
  await child.click();
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-viewing-id', childId);
  if ((await page.getByTestId('toggle-lineage').getAttribute('aria-pressed')) !== 'true') await page.getByTestId('toggle-lineage').click();
  await expect(page.getByTestId('lineage')).toHaveAttribute('data-ready', 'true');
  await expect(page.getByTestId('lineage')).toHaveAttribute('data-ancestors', '1');
  await expect(page.getByTestId('lineage-node').first()).toHaveAttribute('data-id', sourceId);

  // Unmasked pixels (the left edge) come back exactly; the painted right side changed.
  const a = await pixels(page, sourceId);
  const b = await pixels(page, childId);
  expect([b.w, b.h]).toEqual([a.w, a.h]);
  const at = (p: typeof a, x: number, y: number) => p.data.slice((y * p.w + x) * 4, (y * p.w + x) * 4 + 3);
  let rightDiff = 0;
  for (let y = 0; y < a.h; y++) {
    for (let x = 0; x < 16; x++) expect(at(b, x, y), `pixel ${x},${y}`).toEqual(at(a, x, y));
    for (let x = 40; x < 56; x++) rightDiff += at(a, x, y).reduce((s, v, i) => s + Math.abs(v - at(b, x, y)[i]!), 0);
  }
  expect(rightDiff).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});
