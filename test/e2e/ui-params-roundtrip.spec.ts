/**
 * Parameters round-trip in Chromium: "Copy parameters" puts exactly the PNG's own `parameters`
 * text on the clipboard (A1111 names, model hash, denoising strength); "Load parameters" of an
 * img2img result brings back its init image and strength and remakes it; "Use as init" brings the
 * prompt; lineage shows strength; a dropped A1111 PNG with "Euler a" + "Karras" + a clip skip the
 * demo model cannot run says so and still generates.
 */
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { a1111Png, dropPng, openStudio } from './studio-actions';

/** The PNG's `parameters` tEXt chunk, read from the served file. */
async function pngParameters(page: Page, id: string): Promise<string> {
  return page.evaluate(async (id) => {
    const bytes = new Uint8Array(await (await fetch(new URL(`/image/${id}`, location.href))).arrayBuffer());
    const view = new DataView(bytes.buffer);
    for (let at = 8; at + 8 <= bytes.length; ) {
      const len = view.getUint32(at);
      const type = new TextDecoder('latin1').decode(bytes.subarray(at + 4, at + 8));
      const data = bytes.subarray(at + 8, at + 8 + len);
      if (type === 'tEXt') {
        const nul = data.indexOf(0);
        if (new TextDecoder('latin1').decode(data.subarray(0, nul)) === 'parameters') return new TextDecoder('latin1').decode(data.subarray(nul + 1));
      }
      if (type === 'iTXt') {
        const nul = data.indexOf(0);
        if (new TextDecoder().decode(data.subarray(0, nul)) === 'parameters') {
          // keyword\0 flag method \0lang\0 \0translated\0 text (uncompressed)
          let p = nul + 3;
          p = data.indexOf(0, p) + 1;
          p = data.indexOf(0, p) + 1;
          return new TextDecoder().decode(data.subarray(p));
        }
      }
      at += 12 + len;
    }
    return '';
  }, id);
}

async function copyParameters(page: Page, id: string): Promise<string> {
  await page.locator(`[data-testid="history-item"][data-id="${id}"]`).click({ button: 'right' });
  await page.getByTestId('menu-copy').click();
  await expect(page.getByTestId('toast').filter({ hasText: 'Copied' }).last()).toBeVisible();
  return page.evaluate(() => navigator.clipboard.readText());
}

test('copy parameters = the PNG text; load parameters of an img2img result remakes it; use as init brings the prompt', async ({ page, context, atelier }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const errors = await openStudio(page, atelier.url);
  const history = page.getByTestId('history');

  // A text-to-image source.
  await page.getByTestId('prompt').fill('a small red circle on a blue background, lit from the left');
  await page.getByTestId('steps').fill('4');
  let count = Number(await history.getAttribute('data-count'));
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(++count));
  const sourceId = (await page.getByTestId('history-item').first().getAttribute('data-id'))!;
  const sourceText = await copyParameters(page, sourceId);
  expect(sourceText).toBe(await pngParameters(page, sourceId));
  expect(sourceText).toMatch(/Steps: 4, Sampler: DDIM, CFG scale: [\d.]+, Seed: \d+, Size: 64x64, Model hash: [0-9a-f]{10}, Model: atelier-demo, RNG: CPU/);
  expect(sourceText).not.toContain('Scheduler');

  // img2img from it at strength 0.4, with its own prompt.
  await page.locator(`[data-testid="history-item"][data-id="${sourceId}"]`).click();
  await page.getByTestId('viewer').getByTestId('use-as-init').click();
  await expect(page.getByTestId('init-chip')).toHaveAttribute('data-generation-id', sourceId);
  await page.getByTestId('init-strength').fill('0.4');
  await page.getByTestId('prompt').fill('a small red circle on a blue background, golden hour');
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(++count));
  const childId = (await page.getByTestId('history-item').first().getAttribute('data-id'))!;
  const childText = await copyParameters(page, childId);
  expect(childText).toBe(await pngParameters(page, childId));
  expect(childText).toContain('Denoising strength: 0.4');
  expect(childText.split('\n')[0]).toBe('a small red circle on a blue background, golden hour');

  // Lineage: the edge from the source says how strongly it was repainted.
  await page.locator(`[data-testid="history-item"][data-id="${childId}"]`).click();
  if ((await page.getByTestId('toggle-lineage').getAttribute('aria-pressed')) !== 'true') await page.getByTestId('toggle-lineage').click();
  await expect(page.getByTestId('lineage')).toHaveAttribute('data-ready', 'true');
  await expect(page.getByTestId('lineage-edge').first()).toContainText('Strength 0.4');

  // Forget everything, then "Load parameters" of the img2img result: init image, strength, prompt, seed.
  await page.getByTestId('init-clear').click();
  await expect(page.getByTestId('init-chip')).toHaveCount(0);
  await page.getByTestId('prompt').fill('something else entirely');
  await page.getByTestId('steps').fill('9');
  await page.locator(`[data-testid="history-item"][data-id="${childId}"]`).click({ button: 'right' });
  await page.getByTestId('menu-load-params').click();
  await expect(page.getByTestId('init-chip')).toHaveAttribute('data-generation-id', sourceId);
  await expect(page.getByTestId('init-strength')).toHaveValue('0.4');
  await expect(page.getByTestId('prompt')).toHaveValue('a small red circle on a blue background, golden hour');
  await expect(page.getByTestId('steps')).toHaveValue('4');
  await expect(page.getByTestId('seed-lock')).toHaveAttribute('aria-pressed', 'true');
  // Generate remakes it: the new image's parameters are the same text.
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(++count));
  const remakeId = (await page.getByTestId('history-item').first().getAttribute('data-id'))!;
  expect(await pngParameters(page, remakeId)).toBe(childText);

  // "Use as init" on the img2img result brings its prompt along.
  await page.getByTestId('prompt').fill('unrelated words');
  await page.locator(`[data-testid="history-item"][data-id="${childId}"]`).click();
  await page.getByTestId('viewer').getByTestId('use-as-init').click();
  await expect(page.getByTestId('init-chip')).toHaveAttribute('data-generation-id', childId);
  await expect(page.getByTestId('prompt')).toHaveValue('a small red circle on a blue background, golden hour');
  expect(errors).toEqual([]);
});

test('import: Euler a + Karras are applied; a clip skip the demo model cannot run is listed, not applied, and the next run works', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);
  const png = a1111Png(
    'a yellow star on a purple background\nSteps: 5, Sampler: Euler a, Schedule type: Karras, CFG scale: 1.5, Seed: 31337, Size: 64x64, Model: sd_xl_base_1.0, Clip skip: 2, Hires upscale: 2, Version: v1.10.1',
  );
  await dropPng(page, png, 'a1111.png');

  const offer = page.getByTestId('import-offer');
  await expect(offer).toBeVisible();
  await expect(offer.locator('[data-testid="import-applied-item"][data-label="Sampler"]')).toHaveText('Sampler: Euler a Karras');
  const notApplied = offer.getByTestId('import-not-applied-item');
  await expect(notApplied.filter({ hasText: /^Clip skip 2 — .* has only 1 text-encoder layer option/ })).toHaveCount(1);
  await expect(notApplied.filter({ hasText: /^Model “sd_xl_base_1\.0” — not installed here/ })).toHaveCount(1);
  await expect(notApplied.filter({ hasText: 'Hires upscale — Atelier has no such setting' })).toHaveCount(1);
  // In words, never field names.
  await expect(offer).not.toContainText('guidanceScale');
  await expect(offer).not.toContainText('clipSkip');

  await page.getByTestId('import-apply').click();
  await expect(offer).toBeHidden();
  await expect(page.getByTestId('scheduler')).toHaveValue('EulerAncestralDiscreteScheduler+karras');
  await expect(page.getByTestId('clip-skip')).toHaveValue('1');
  await expect(page.getByTestId('seed')).toHaveValue('31337');

  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 1));
  const id = (await page.getByTestId('history-item').first().getAttribute('data-id'))!;
  const text = await pngParameters(page, id);
  expect(text).toContain('Steps: 5, Sampler: Euler a, Schedule type: Karras, CFG scale: 1.5, Seed: 31337, Size: 64x64');
  expect(text).not.toContain('Clip skip');
  expect(errors).toEqual([]);
});
