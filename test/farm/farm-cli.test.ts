/**
 * `atelier serve --farm` and `atelier worker --farm` refuse bad input at start, with typed messages
 * that name the fix: a URL that is not Redis, a Redis nobody answers (bounded attempts), no --farm.
 */
import { describe, expect, it } from 'vitest';
import { cliWithHome } from '../helpers/atelier-cli';
import { freePort } from './helpers';

const { atelier } = cliWithHome('atelier-farm-cli-');

describe('farm command line', () => {
  it('serve --farm with a URL that is not Redis exits 1 and says what a farm URL looks like', async () => {
    const r = await atelier(['serve', '--port', '0', '--farm', 'http://studio:6379']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--farm must start with redis:\/\/ or rediss:\/\//);
  });

  it('worker --farm against a Redis nobody answers fails after bounded attempts, password redacted', async () => {
    const port = await freePort();
    const started = Date.now();
    const r = await atelier(['worker', '--farm', `redis://:hunter2@127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`Cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} after 5 attempts`));
    expect(r.stderr).not.toMatch(/hunter2/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('worker without --farm is refused with the usage', async () => {
    const r = await atelier(['worker']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--farm is required/);
    expect(r.stderr).toMatch(/atelier worker --farm redis:\/\//);
  });
});
