import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
// @ts-expect-error plain .mjs script without type declarations
import { BUILD_OUTPUTS, buildIsFresh } from '../../scripts/start.mjs';

const OLD = new Date('2026-01-01T00:00:00Z');
const BUILT = new Date('2026-01-02T00:00:00Z');
const LATER = new Date('2026-01-03T00:00:00Z');

let root: string;
function put(rel: string, when: Date) {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, rel);
  utimesSync(p, when, when);
}

describe('npm start: is dist/ newer than the sources?', () => {
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'atelier-start-'));
    for (const rel of ['package.json', 'renderer/components/App.tsx', 'main/cli/index.ts', 'common/api/schemas.ts', 'preload/index.ts', 'scripts/build-node.mjs']) put(rel, OLD);
    for (const rel of BUILD_OUTPUTS as string[]) put(rel, BUILT);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('skips the build when every output is newer than every source file', () => {
    expect(buildIsFresh(root)).toBe(true);
  });

  it.each(['renderer/components/App.tsx', 'main/cli/index.ts', 'common/api/schemas.ts', 'preload/index.ts', 'package.json', 'renderer/lib/new-file.ts'])(
    'builds after %s changed',
    (rel) => {
      put(rel, LATER);
      expect(buildIsFresh(root)).toBe(false);
    },
  );

  it('builds when an output is missing (never built, or a failed build)', () => {
    rmSync(join(root, 'dist/main/cli.mjs'));
    expect(buildIsFresh(root)).toBe(false);
    rmSync(join(root, 'dist'), { recursive: true });
    expect(buildIsFresh(root)).toBe(false);
  });

  it('builds when one output is older than a source (an interrupted build)', () => {
    put('dist/preload/preload.cjs', OLD);
    put('preload/index.ts', new Date(BUILT.getTime() - 1000));
    expect(buildIsFresh(root)).toBe(false);
  });

  it('ignores files outside the sources (docs, tests, node_modules, dot folders)', () => {
    put('docs/notes.md', LATER);
    put('test/x.test.ts', LATER);
    put('renderer/node_modules/dep/index.js', LATER);
    put('main/.cache/x', LATER);
    expect(buildIsFresh(root)).toBe(true);
  });
});
