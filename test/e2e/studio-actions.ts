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
