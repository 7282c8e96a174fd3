/** Steps several specs share, waiting on the UI's data-* state (never on time). */
import { expect, type Page } from '@playwright/test';

/** Type a prompt, press Generate and wait until the result is in the history strip. */
export async function generate(page: Page, prompt: string): Promise<void> {
  const history = page.getByTestId('history');
  const before = Number(await history.getAttribute('data-count'));
  await page.getByTestId('prompt').fill(prompt);
  await page.getByTestId('generate').click();
  await expect(history).toHaveAttribute('data-count', String(before + 1));
}

/**
 * Open the studio and wait until it is ready with the first history page in. Returns the list that
 * collects uncaught page errors from now on (specs assert it is empty at the end).
 */
export async function openStudio(page: Page, url: string, viewport = { width: 1440, height: 900 }): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize(viewport);
  await page.goto(url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false');
  return errors;
}
