/**
 * vitest globalSetup: tests that spawn `bin/atelier.mjs` (test/helpers/atelier-cli.ts, test/cli/*,
 * the adherence CLI check, …) run dist/main/cli.mjs when it exists. So that `npx vitest`,
 * `npm run test:adherence` and `npm test` all test the current sources, rebuild the Node side
 * (`npm run build:node`, esbuild, a few seconds) once before the suite whenever dist/ is older than
 * the sources — the freshness rule of `npm start` (scripts/start.mjs), limited to the Node outputs
 * (the renderer bundle is Playwright's business and `npm test` builds it).
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain .mjs script without type declarations
import { BUILD_OUTPUTS, BUILD_SOURCES, newestMtime } from '../scripts/start.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The Node half of `buildIsFresh(root)`: every dist/main + dist/preload output newer than main/, common/, preload/, package.json and the build script. */
export function nodeBuildIsFresh(root: string): boolean {
  const outputs = (BUILD_OUTPUTS as string[]).filter((rel) => !rel.startsWith('dist/renderer/'));
  const sources = (BUILD_SOURCES as string[]).filter((rel) => rel !== 'renderer');
  let oldestOutput = Infinity;
  for (const rel of outputs) {
    try {
      oldestOutput = Math.min(oldestOutput, statSync(join(root, rel)).mtimeMs);
    } catch {
      return false;
    }
  }
  const newestSource = Math.max(...sources.map((rel) => newestMtime(join(root, rel)) as number));
  return newestSource < oldestOutput;
}

export default function setup(): void {
  if (nodeBuildIsFresh(ROOT)) return;
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-node.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`vitest globalSetup: npm run build:node failed (exit ${r.status ?? r.signal}); CLI tests would run a stale dist/`);
  console.log(`vitest globalSetup: dist/ was older than the sources, rebuilt the Node side in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
