/**
 * ControlNet in the studio against a real `atelier serve` whose models folder is built from the
 * committed fixtures (as test/engine/controlnet/helpers.ts does): the SD-shaped fixture model with a
 * ControlNet UNet in `controlnet/`, and a fake ControlNet in `controlnets/cn-edges/`. A unit with an
 * opened control image goes into the generate request; the result lands with the unit recorded and
 * differs from the same seed without it; "use current image" and "restore parameters" round-trip (an
 * opened file's image comes back from the project and generates the same picture again); a
 * drawn control image (ControlSketch) is used and recorded like an opened file.
 */
import { cpSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test as base, type Page } from '@playwright/test';
import sharp from 'sharp';
import WebSocket from 'ws';
import { createApiClient } from '../../common/api/client';
import type { AtelierClient, GenerationRecord } from '../../common/api/contract';
import { createWebSocketTransport } from '../../common/api/ws-client';
import type { WebSocketLike } from '../../common/api/ws-protocol';
import { startAtelierServer, stopAtelierServer, type AtelierServer } from './fixtures';
import { screenshotPath } from './screenshots';
import { openStudio } from './studio-actions';

const FIXTURES = join(process.cwd(), 'test', 'fixtures');
const MODEL = 'sd15-diffusers';
const CONTROLNET = 'cn-edges';
/** The same fixture model without controlnet/: its UNet takes no residuals, so it cannot run ControlNet. */
const PLAIN_MODEL = 'sd15-plain';

/** `<home>/models`: the fixture model with the ControlNet UNet (Amuse layout) and one ControlNet ("edges" in its name: canny). */
function controlNetHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'atelier-e2e-cn-'));
  const models = join(home, 'models');
  cpSync(join(FIXTURES, 'models', MODEL), join(models, MODEL), { recursive: true });
  cpSync(join(FIXTURES, 'controlnet', 'unet-additional'), join(models, MODEL, 'controlnet'), { recursive: true });
  cpSync(join(FIXTURES, 'models', MODEL), join(models, PLAIN_MODEL), { recursive: true });
  mkdirSync(join(models, 'controlnets'), { recursive: true });
  cpSync(join(FIXTURES, 'controlnet', 'cn-named'), join(models, 'controlnets', CONTROLNET), { recursive: true });
  return home;
}

const test = base.extend<object, { cnServer: AtelierServer & { client: AtelierClient; close(): void } }>({
  cnServer: [
    async ({}, use) => {
      const server = await startAtelierServer([], {}, controlNetHome());
      const socket = new WebSocket(`${server.url.replace(/^http/, 'ws').replace(/\/$/, '')}/api/ws`);
      await new Promise((resolve, reject) => (socket.once('open', resolve), socket.once('error', reject)));
      const transport = createWebSocketTransport(socket as unknown as WebSocketLike);
      await use({ ...server, client: createApiClient(transport), close: () => transport.close() });
      transport.close();
      await stopAtelierServer(server);
    },
    { scope: 'worker' },
  ],
});

/** A 64×64 PNG: a bright square on a dark ground (strong edges for the Canny annotator). */
function squarePng(): Promise<Buffer> {
  const rgb = Buffer.alloc(64 * 64 * 3);
  for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) rgb.set(x >= 16 && x < 48 && y >= 20 && y < 44 ? [230, 220, 200] : [20, 30, 40], (y * 64 + x) * 3);
  return sharp(rgb, { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer();
}

/** Press Generate and wait for the new image at the head of the history strip; returns its id. */
async function generateOne(page: Page): Promise<string> {
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 1));
  return (await page.getByTestId('history-item').first().getAttribute('data-id'))!;
}

/** A DataTransfer holding one PNG file, as a file manager's drag carries it. */
function dataTransferOf(page: Page, png: Buffer, name: string) {
  return page.evaluateHandle(
    ([b64, fileName]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], fileName, { type: 'image/png' }));
      return dt;
    },
    [png.toString('base64'), name] as const,
  );
}

async function pixels(server: AtelierServer, g: GenerationRecord): Promise<Buffer> {
  const res = await fetch(new URL(g.imageUrl, server.url));
  expect(res.status).toBe(200);
  return sharp(Buffer.from(await res.arrayBuffer())).removeAlpha().raw().toBuffer();
}

test('ControlNet: generate with an opened control image, recorded with the image; use the current image; restore parameters', async ({ page, cnServer }) => {
  const errors = await openStudio(page, cnServer.url);
  await page.getByTestId('model-select').selectOption(MODEL);
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  await page.getByTestId('steps').fill('4');
  await page.getByTestId('seed').fill('42');
  await page.getByTestId('prompt').fill('a lighthouse at dusk');
  const plainId = await generateOne(page);

  // A unit: the installed ControlNet, its suggested annotator (canny, from "edges" in its name).
  await page.getByTestId('control-add').click();
  const unit = page.getByTestId('control-unit');
  await expect(unit).toHaveCount(1);
  await page.getByLabel('ControlNet 1 model').selectOption(CONTROLNET);
  await expect(page.getByLabel('ControlNet 1 annotator')).toHaveValue('canny');
  // Without an image Generate refuses and says why.
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('toast').filter({ hasText: 'ControlNet 1: add a control image' })).toBeVisible();

  await page.getByTestId('control-file').setInputFiles({ name: 'square.png', mimeType: 'image/png', buffer: await squarePng() });
  await expect(page.getByTestId('control-image')).toHaveAttribute('data-kind', 'file');
  await expect(page.getByTestId('control-image-info')).toHaveText('square.png · 64×64');
  await page.getByLabel('ControlNet 1 weight (number)', { exact: true }).fill('1.5');
  // The weight slider is keyboard-operable: 1.5 → 1.55 → back to 1.5.
  const slider = page.getByLabel('ControlNet 1 weight', { exact: true });
  await slider.focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByLabel('ControlNet 1 weight (number)', { exact: true })).toHaveValue('1.55');
  await page.keyboard.press('ArrowLeft');

  // Beside the canvas: the control image with its weight and steps.
  const strip = page.getByTestId('control-strip-unit');
  await expect(strip).toHaveAttribute('data-model', CONTROLNET);
  await expect(strip.getByTestId('control-strip-weight')).toHaveText('weight 1.50');
  await expect(strip.getByTestId('control-strip-steps')).toHaveText('steps 1–4 of 4');
  await expect(strip.locator('img')).toBeVisible();

  const controlledId = await generateOne(page);
  await page.screenshot({ path: screenshotPath('controlnet.png') });
  const [plain, controlled] = await Promise.all([cnServer.client.getGeneration({ id: plainId }), cnServer.client.getGeneration({ id: controlledId })]);
  expect(plain.controlNets ?? []).toEqual([]);
  expect(controlled.seed).toBe(plain.seed);
  expect(controlled.controlNets).toEqual([
    expect.objectContaining({ model: CONTROLNET, weight: 1.5, start: 0, end: 1, annotator: { kind: 'canny', low: 100, high: 200 }, imageRef: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) }),
  ]);
  // Same seed and prompt, different picture: the control image shaped it.
  const [a, b] = await Promise.all([pixels(cnServer, plain), pixels(cnServer, controlled)]);
  expect(a.length).toBe(64 * 64 * 3);
  expect(b.equals(a)).toBe(false);

  // "Use current image": the image in the viewer becomes the control image, recorded by its id.
  await page.locator(`[data-testid="history-item"][data-id="${plainId}"]`).click();
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-viewing-id', plainId);
  await page.getByTestId('control-use-current').click();
  await expect(page.getByTestId('control-image')).toHaveAttribute('data-kind', 'generation');
  const fromHistoryId = await generateOne(page);
  const fromHistory = await cnServer.client.getGeneration({ id: fromHistoryId });
  expect(fromHistory.controlNets).toEqual([expect.objectContaining({ model: CONTROLNET, imageRef: plainId })]);

  // Restore parameters (double-click): the opened-file unit comes back with its image, loaded from the project (getControlImage).
  await page.getByTestId('control-remove').click();
  await expect(unit).toHaveCount(0);
  await page.locator(`[data-testid="history-item"][data-id="${controlledId}"]`).dblclick();
  await expect(unit).toHaveCount(1);
  await expect(page.getByLabel('ControlNet 1 model')).toHaveValue(CONTROLNET);
  await expect(page.getByLabel('ControlNet 1 weight (number)', { exact: true })).toHaveValue('1.5');
  const keptRef = controlled.controlNets![0]!.imageRef;
  await expect(page.getByTestId('control-image')).toHaveAttribute('data-kind', 'file');
  await expect(page.getByTestId('control-image-info')).toHaveText(`kept ${keptRef.slice('sha256:'.length, 'sha256:'.length + 10)}.png · 64×64`);
  await expect(page.getByTestId('toast').filter({ hasText: `Seed ${controlled.seed} locked, 1 ControlNet unit loaded — Generate reproduces this image.` })).toBeVisible();
  await expect(page.getByTestId('toast').filter({ hasText: 'Not restored' })).toHaveCount(0);
  // Generate with it: the record points at the same stored file, and the picture is the same.
  const restoredId = await generateOne(page);
  const restored = await cnServer.client.getGeneration({ id: restoredId });
  expect(restored.controlNets).toEqual([expect.objectContaining({ model: CONTROLNET, weight: 1.5, imageRef: keptRef })]);
  expect((await pixels(cnServer, restored)).equals(b)).toBe(true);
  // Dragged over the page, a file offers the parameters import; over the unit, the unit takes it instead.
  const png = await dataTransferOf(page, await squarePng(), 'dropped.png');
  await page.dispatchEvent('body', 'dragover', { dataTransfer: png });
  await expect(page.getByTestId('drop-overlay')).toBeVisible();
  await page.getByTestId('control-image').dispatchEvent('dragover', { dataTransfer: png });
  await expect(page.getByTestId('drop-overlay')).toHaveCount(0);
  await page.getByTestId('control-image').dispatchEvent('drop', { dataTransfer: png });
  await expect(page.getByTestId('control-image')).toHaveAttribute('data-kind', 'file');
  await expect(page.getByTestId('control-image-info')).toHaveText('dropped.png · 64×64');
  // The one made from a history image comes back whole.
  await page.locator(`[data-testid="history-item"][data-id="${fromHistoryId}"]`).dblclick();
  await expect(page.getByTestId('control-image')).toHaveAttribute('data-kind', 'generation');
  await expect(page.getByTestId('control-image').locator('img')).toHaveAttribute('src', new RegExp(`/thumb/${plainId}$`));
  expect(errors).toEqual([]);
});

test('variant explorer: "lock structure: edges" runs the grid with the source as a Canny ControlNet unit; depth is disabled and says what to install', async ({ page, cnServer }) => {
  await openStudio(page, cnServer.url);
  await page.getByTestId('model-select').selectOption(MODEL);
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  await page.getByTestId('steps').fill('4');
  await page.getByTestId('prompt').fill('a red ball on a blue floor');
  const sourceId = await generateOne(page);

  await page.getByTestId('open-variants').click();
  await page.getByTestId('variant-axis').selectOption('lighting');
  for (const box of await page.getByTestId('variant-choice').all()) await box.setChecked((await box.getAttribute('data-value')) === 'golden hour');
  const depth = page.getByTestId('variant-structure-depth');
  await expect(depth).toBeDisabled();
  await expect(depth).toHaveAccessibleDescription(/^Install a depth ControlNet/);
  await page.getByTestId('variant-structure-edges').check();
  await expect(page.getByTestId('variant-structure')).toHaveAttribute('data-active', `edges:${CONTROLNET}`);
  await page.screenshot({ path: screenshotPath('variants-structure-lock.png') });
  await page.getByTestId('variant-run').click();
  const group = page.getByTestId('variant-group');
  await expect(group).toHaveAttribute('data-structure', 'edges');
  await expect(group).toHaveAttribute('data-done', '1');
  const variantId = (await page.locator('[data-testid="variant-cell"][data-state="done"]').getAttribute('data-generation-id'))!;
  const variant = await cnServer.client.getGeneration({ id: variantId });
  expect(variant.parentId).toBe(sourceId);
  expect(variant.prompt).toContain('golden hour');
  expect(variant.controlNets).toEqual([expect.objectContaining({ model: CONTROLNET, imageRef: sourceId, annotator: expect.objectContaining({ kind: 'canny' }) })]);
});

/** The sketch's pixel (RGBA) at a point of its own coordinates. */
function sketchPixel(page: Page, x: number, y: number): Promise<number[]> {
  return page.getByTestId('sketch-canvas').evaluate((c: HTMLCanvasElement, [px, py]) => [...c.getContext('2d')!.getImageData(px!, py!, 1, 1).data], [x, y]);
}

test('ControlNet: draw the control image (stroke, undo, keyboard brush), use it, generate with it; "Draw over" starts from it', async ({ page, cnServer }) => {
  const errors = await openStudio(page, cnServer.url);
  await page.getByTestId('model-select').selectOption(MODEL);
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  await page.getByTestId('steps').fill('4');
  await page.getByTestId('prompt').fill('a house drawn in lines');
  await page.getByTestId('control-add').click();
  await page.getByLabel('ControlNet 1 model').selectOption(CONTROLNET);
  // A drawing already is the control map: no annotator.
  await page.getByLabel('ControlNet 1 annotator').selectOption('none');

  await page.getByRole('button', { name: 'Draw a control image for ControlNet 1' }).click();
  const sketch = page.getByRole('dialog', { name: 'Draw the control image of ControlNet 1' });
  await expect(sketch).toHaveAttribute('data-ready', 'true');
  const canvas = page.getByTestId('sketch-canvas');
  // The output's aspect (64×64) at 512 pixels on the long side, black to begin with.
  await expect(canvas).toHaveAttribute('width', '512');
  await expect(canvas).toHaveAttribute('height', '512');
  expect(await sketchPixel(page, 256, 256)).toEqual([0, 0, 0, 255]);

  // A horizontal stroke across the middle with the mouse.
  const box = (await canvas.boundingBox())!;
  const stroke = async () => {
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2, { steps: 8 });
    await page.mouse.up();
  };
  await stroke();
  await expect(sketch).toHaveAttribute('data-undo', '1');
  expect(await sketchPixel(page, 256, 256)).toEqual([255, 255, 255, 255]);
  expect(await sketchPixel(page, 256, 40)).toEqual([0, 0, 0, 255]);
  // Ctrl+Z takes it back; draw it again.
  await page.keyboard.press('ControlOrMeta+z');
  await expect(sketch).toHaveAttribute('data-undo', '0');
  expect(await sketchPixel(page, 256, 256)).toEqual([0, 0, 0, 255]);
  await stroke();
  await expect(sketch).toHaveAttribute('data-undo', '1');
  // The keyboard brush: Enter puts the pen down at the centre, arrows draw, Enter lifts it.
  await canvas.focus();
  await page.keyboard.press('Enter');
  await expect(canvas).toHaveAttribute('data-pen', 'down');
  for (let i = 0; i < 8; i++) await page.keyboard.press('Shift+ArrowUp');
  await page.keyboard.press('Enter');
  await expect(canvas).toHaveAttribute('data-pen', 'up');
  await expect(sketch).toHaveAttribute('data-undo', '2');
  expect(await sketchPixel(page, 256, 256 - 100)).toEqual([255, 255, 255, 255]);
  // The eraser draws black; Clear blacks out everything; each is one undo step.
  const eraser = sketch.getByRole('button', { name: 'Eraser' });
  await eraser.click();
  await expect(eraser).toHaveAttribute('aria-pressed', 'true');
  await stroke();
  expect(await sketchPixel(page, 256, 256)).toEqual([0, 0, 0, 255]);
  await page.keyboard.press('ControlOrMeta+z');
  await eraser.click();
  await sketch.getByRole('button', { name: 'Clear' }).click();
  expect(await sketchPixel(page, 256, 156)).toEqual([0, 0, 0, 255]);
  await sketch.getByRole('button', { name: 'Undo' }).click();
  await expect(sketch).toHaveAttribute('data-undo', '2');
  expect(await sketchPixel(page, 256, 256)).toEqual([255, 255, 255, 255]);
  await page.screenshot({ path: screenshotPath('controlnet-sketch.png') });

  await sketch.getByRole('button', { name: 'Use drawing' }).click();
  await expect(sketch).toHaveCount(0);
  await expect(page.getByTestId('control-image')).toHaveAttribute('data-kind', 'file');
  await expect(page.getByTestId('control-image-info')).toHaveText('drawing.png · 512×512');
  // The strip beside the canvas shows that drawing: a PNG with the white stroke on black.
  const stripImage = page.getByTestId('control-strip-unit').locator('img');
  const src = (await stripImage.getAttribute('src'))!;
  expect(src).toMatch(/^data:image\/png;base64,/);
  await expect(page.getByTestId('control-image').locator('img')).toHaveAttribute('src', src);
  const drawn = sharp(Buffer.from(src.split(',')[1]!, 'base64'));
  const { data, info } = await drawn.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height]).toEqual([512, 512]);
  const at = (x: number, y: number) => [...data.subarray((y * 512 + x) * 3, (y * 512 + x) * 3 + 3)];
  expect(at(256, 256)).toEqual([255, 255, 255]);
  expect(at(256, 156)).toEqual([255, 255, 255]);
  expect(at(20, 20)).toEqual([0, 0, 0]);

  const id = await generateOne(page);
  const g = await cnServer.client.getGeneration({ id });
  expect(g.controlNets).toEqual([expect.objectContaining({ model: CONTROLNET, imageRef: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) })]);

  // "Draw over…" starts from the drawing; Cancel leaves the control image as it was.
  await page.getByRole('button', { name: 'Draw over the control image of ControlNet 1' }).click();
  await expect(sketch).toHaveAttribute('data-ready', 'true');
  expect(await sketchPixel(page, 256, 256)).toEqual([255, 255, 255, 255]);
  expect(await sketchPixel(page, 20, 20)).toEqual([0, 0, 0, 255]);
  await sketch.getByRole('button', { name: 'Cancel' }).click();
  await expect(sketch).toHaveCount(0);
  await expect(page.getByTestId('control-image').locator('img')).toHaveAttribute('src', src);
  expect(errors).toEqual([]);
});

test('a model without a ControlNet-capable UNet: the panel says so, Generate refuses before queueing, the structure lock is disabled', async ({ page, cnServer }) => {
  const errors = await openStudio(page, cnServer.url);
  const unsupported = page.getByTestId('control-model-unsupported');
  await page.getByTestId('model-select').selectOption(MODEL);
  await expect(unsupported).toHaveCount(0);
  await page.getByTestId('model-select').selectOption(PLAIN_MODEL);
  await expect(unsupported).toContainText(`${PLAIN_MODEL} has no ControlNet-capable UNet`);
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  await page.getByTestId('steps').fill('4');
  await page.getByTestId('prompt').fill('a plain vase');
  // Without units the model generates as before.
  await generateOne(page);

  await page.getByTestId('control-add').click();
  await page.getByLabel('ControlNet 1 model').selectOption(CONTROLNET);
  await page.getByTestId('control-file').setInputFiles({ name: 'square.png', mimeType: 'image/png', buffer: await squarePng() });
  await expect(page.getByTestId('control-image')).toHaveAttribute('data-kind', 'file');
  const queued = (await cnServer.client.listJobs()).length;
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('toast').filter({ hasText: `${PLAIN_MODEL} has no ControlNet-capable UNet` })).toBeVisible();
  expect((await cnServer.client.listJobs()).length).toBe(queued);
  await page.getByTestId('control-remove').click();

  // The image just made is the explorer's source: its model cannot lock structure either.
  await page.getByTestId('open-variants').click();
  const edges = page.getByTestId('variant-structure-edges');
  await expect(edges).toBeDisabled();
  await expect(edges).toHaveAccessibleDescription(new RegExp(`^${PLAIN_MODEL} has no ControlNet-capable UNet`));
  await expect(page.getByTestId('variant-structure-unsupported')).toBeVisible();
  await expect(page.getByTestId('variant-structure')).toHaveAttribute('data-active', '');
  expect(errors).toEqual([]);
});
