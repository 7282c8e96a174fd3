/**
 * Where an e2e screenshot goes. The README's pictures (docs/screenshots/, tracked) are rewritten only
 * on request — `UPDATE_SCREENSHOTS=1 npx playwright test` — so an ordinary test run never changes a
 * tracked file; otherwise they land in a temp folder (printed once) for a look after the run.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SCREENSHOT_DIR = process.env.UPDATE_SCREENSHOTS === '1' ? join('docs', 'screenshots') : join(tmpdir(), 'atelier-e2e-screenshots');

let announced = false;

/** Path for screenshot `name` (e.g. 'workspace.png'); creates the folder. */
export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  if (!announced && process.env.UPDATE_SCREENSHOTS !== '1') {
    announced = true;
    console.log(`e2e screenshots → ${SCREENSHOT_DIR} (UPDATE_SCREENSHOTS=1 writes docs/screenshots/)`);
  }
  return join(SCREENSHOT_DIR, name);
}
