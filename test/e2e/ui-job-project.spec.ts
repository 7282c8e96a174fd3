import { test, expect } from './fixtures';
import { openStudio } from './studio-actions';
import type { Page } from '@playwright/test';

async function createProject(page: Page, name: string): Promise<void> {
  await page.getByTestId('project-select').selectOption('__new');
  await page.getByTestId('project-name').fill(name);
  await page.getByTestId('project-create').click();
  await expect(page.getByTestId('project-select').locator('option:checked')).toHaveText(name);
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false');
}

async function switchTo(page: Page, name: string): Promise<void> {
  const value = await page.getByTestId('project-select').locator('option', { hasText: name }).first().getAttribute('value');
  await page.getByTestId('project-select').selectOption(value!);
  await expect(page.getByTestId('project-select').locator('option:checked')).toHaveText(name);
  await expect(page.getByTestId('history')).toHaveAttribute('data-loading', 'false');
}

test('projects: a batch started in Client A lands in Client A after switching to Client B', async ({ page, atelier }) => {
  const errors = await openStudio(page, atelier.url);
  await createProject(page, 'Client A');

  await page.getByTestId('prompt').fill('a red square on a white background');
  await page.getByTestId('steps').fill('300');
  await page.getByTestId('batch').fill('3');
  await page.getByTestId('generate').click();
  const row = page.getByTestId('queue-item').filter({ hasText: 'a red square' });
  await expect(row).toHaveAttribute('data-state', 'running');
  await expect(row.getByTestId('job-project')).toContainText('Client A');

  // Switching while it runs says where its images will go.
  await createProject(page, 'Client B');
  await expect(page.getByTestId('toast').filter({ hasText: 'Jobs still running' })).toContainText('Client A');
  await expect(row.getByTestId('job-project')).toContainText('Client A');

  await expect(row).toHaveAttribute('data-state', 'done', { timeout: 90_000 });
  await expect(page.getByTestId('history')).toHaveAttribute('data-count', '0');

  await switchTo(page, 'Client A');
  await expect(page.getByTestId('history')).toHaveAttribute('data-count', '3');
  expect(errors).toEqual([]);
});
