/**
 * The left panel's LoRA picker against a real `atelier serve` whose models folder holds real LoRA
 * fixture files: it lists them, Add puts `<lora:name:1>` into the prompt, the weight field and the
 * slider (keyboard) rewrite the tag's weight, and Remove takes the tag out.
 */
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test as base } from '@playwright/test';
import { startAtelierServer, stopAtelierServer, type AtelierServer } from './fixtures';
import { openStudio } from './studio-actions';

const test = base.extend<object, { loraServer: AtelierServer }>({
  loraServer: [
    async ({}, use) => {
      const home = mkdtempSync(join(tmpdir(), 'atelier-e2e-lora-'));
      const loras = join(home, 'models', 'loras');
      mkdirSync(loras, { recursive: true });
      for (const f of ['kohya_sd15.safetensors', 'peft_sd15.safetensors']) copyFileSync(join(process.cwd(), 'test', 'fixtures', 'lora', f), join(loras, f));
      const server = await startAtelierServer([], {}, home);
      await use(server);
      await stopAtelierServer(server);
    },
    { scope: 'worker' },
  ],
});

test('LoRA picker: add a tag, edit its weight with the field and the slider, remove it', async ({ page, loraServer }) => {
  const errors = await openStudio(page, loraServer.url);
  const prompt = page.getByTestId('prompt');
  await prompt.fill('a lighthouse at dusk');

  const add = page.getByLabel('LoRA', { exact: true });
  await expect(add.locator('option')).toHaveText([/^kohya_sd15 · SD 1\.x · rank 4 · /, 'peft_sd15 · 812 B']);
  await add.selectOption('kohya_sd15');
  await page.getByTestId('lora-insert').click();
  await expect(prompt).toHaveValue('a lighthouse at dusk <lora:kohya_sd15:1>');
  // Already in the prompt: no longer offered.
  await expect(add.locator('option')).toHaveText([/^peft_sd15/]);

  const weight = page.getByLabel('kohya_sd15 weight');
  await expect(weight).toHaveValue('1');
  await weight.fill('0.6');
  await expect(prompt).toHaveValue('a lighthouse at dusk <lora:kohya_sd15:0.6>');

  // The slider is labelled with the LoRA's name and moves by keyboard.
  const slider = page.getByTestId('lora-weight-slider');
  await expect(slider).toHaveAccessibleName('kohya_sd15');
  await slider.focus();
  await page.keyboard.press('ArrowRight');
  await expect(prompt).toHaveValue('a lighthouse at dusk <lora:kohya_sd15:0.65>');

  // A hand-typed tag is picked up too.
  await prompt.fill('a cat <lora:peft_sd15:0.3>');
  await expect(page.getByLabel('peft_sd15 weight')).toHaveValue('0.3');
  await page.getByRole('button', { name: 'Remove peft_sd15 from the prompt' }).click();
  await expect(prompt).toHaveValue('a cat');
  await expect(page.getByTestId('prompt-lora')).toHaveCount(0);
  expect(errors).toEqual([]);
});
