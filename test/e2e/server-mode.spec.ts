import { test, expect } from './fixtures';

test('server mode serves the studio, which calls the real API and shows the execution providers', async ({ page, atelier }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(atelier.url);
  await expect(page.locator('[data-app-state="ready"]')).toBeVisible();
  const providers = page.getByTestId('execution-providers');
  await expect(providers).toContainText('cpu');
  expect(errors).toEqual([]);
});

test('images and API are refused cross-origin', async ({ request, atelier }) => {
  const res = await request.get(new URL('/api/health', atelier.url).href, { headers: { Origin: 'http://evil.example' } });
  expect(res.status()).toBe(403);
});
