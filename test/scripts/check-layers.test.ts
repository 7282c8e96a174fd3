import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
// @ts-expect-error plain .mjs script without type declarations
import { checkFile, checkLayers, findImportCycles, importsOf } from '../../scripts/check-layers.mjs';

const root = resolve('.');
const at = (p: string) => resolve(root, p);

describe('layer rule', () => {
  it('passes on the repository', () => {
    expect(checkLayers(root)).toEqual([]);
  });

  it('finds every import form', () => {
    const src = `import a from 'x';\nimport type { B } from "y";\nexport * from './z';\nconst c = await import('w');\nrequire('v');\nimport 'side-effect';`;
    expect(importsOf(src)).toEqual(['x', 'y', './z', 'side-effect', 'w', 'v'].filter(Boolean).sort((p, q) => src.indexOf(p) - src.indexOf(q)));
  });

  it('fails when the renderer imports Node-only code', () => {
    for (const spec of ['onnxruntime-node', 'better-sqlite3', 'sharp', 'fs', 'node:fs', 'node:path']) {
      expect(checkFile(root, at('renderer/x.ts'), `import x from '${spec}';`)).toHaveLength(1);
    }
    expect(checkFile(root, at('renderer/x.ts'), `import { a } from '../main/engine';`)).toHaveLength(1);
    expect(checkFile(root, at('renderer/x.ts'), `import { a } from '../common/api';\nimport { create } from 'zustand';`)).toEqual([]);
  });

  it('fails when pure shared code imports Node or touches the DOM', () => {
    expect(checkFile(root, at('common/x.ts'), `import { readFileSync } from 'node:fs';`)).toHaveLength(1);
    expect(checkFile(root, at('common/x.ts'), `import React from 'react';`)).toHaveLength(1);
    expect(checkFile(root, at('common/x.ts'), `export const w = () => window.location;`)).toHaveLength(1);
    expect(checkFile(root, at('common/x.ts'), `import { z } from 'zod';`)).toEqual([]);
  });

  it('keeps the preload to electron and common', () => {
    expect(checkFile(root, at('preload/x.ts'), `import { x } from '../main/app/paths';`)).toHaveLength(1);
    expect(checkFile(root, at('preload/x.ts'), `import fs from 'fs';`)).toHaveLength(1);
    expect(checkFile(root, at('preload/x.ts'), `import { contextBridge } from 'electron';`)).toEqual([]);
  });

  it('keeps the floors inside main/: no upward imports, sealed engine and engine-host', () => {
    // Upward: the engine, the library and the models may not reach the app or the transports.
    expect(checkFile(root, at('main/engine/x.ts'), `import { a } from '../app/paths';`)).toHaveLength(1);
    expect(checkFile(root, at('main/models/catalog.ts'), `import { appRoot } from '../app/paths';`)).toHaveLength(1);
    expect(checkFile(root, at('main/library/x.ts'), `import { b } from '../engine-host';`)).toHaveLength(1);
    expect(checkFile(root, at('main/app/create-backend.ts'), `import { toApiError } from '../api/dispatch';`)).toHaveLength(1);
    expect(checkFile(root, at('main/engine-host/worker.ts'), `import { x } from '../app/settings-store';`)).toHaveLength(1);
    // Past the public surface.
    expect(checkFile(root, at('main/engine-host/worker.ts'), `import { loadTaesdDecoder } from '../engine/taesd';`)).toHaveLength(1);
    expect(checkFile(root, at('main/app/generation-plan.ts'), `import type { PipelineRequest } from '../engine-host/protocol';`)).toHaveLength(1);
    expect(checkFile(root, at('main/cli/x.ts'), `import { a } from '../engine/pipeline/txt2img';`)).toHaveLength(1);
    // Allowed: downward through the index, and within one folder.
    expect(checkFile(root, at('main/engine-host/worker.ts'), `import { loadTaesdDecoder } from '../engine';`)).toEqual([]);
    expect(checkFile(root, at('main/app/x.ts'), `import { EngineHost } from '../engine-host';\nimport { a } from '../engine/index';\nimport { b } from './y';`)).toEqual([]);
    expect(checkFile(root, at('main/engine/pipeline/x.ts'), `import { c } from '../schedulers/ddim';`)).toEqual([]);
    expect(checkFile(root, at('main/cli/x.ts'), `import { startServer } from '../server/server';`)).toEqual([]);
  });

  it('finds import circles, type-only ones included', () => {
    const f = (p: string) => at(p);
    const sources = new Map<string, string>([
      [f('main/library/a.ts'), `import { b } from './b';`],
      [f('main/library/b.ts'), `import type { A } from './a';`],
      [f('main/library/c.ts'), `import { a } from './a';`],
      [f('main/models/d.ts'), `import { e } from './e.js';`],
      [f('main/models/e.ts'), `import { f } from './f';`],
      [f('main/models/f.ts'), `export * from './d';`],
      [f('main/models/g.ts'), `import { g } from './g';`],
    ]);
    expect(findImportCycles(root, sources)).toEqual([
      ['main/library/a.ts', 'main/library/b.ts'],
      ['main/models/d.ts', 'main/models/e.ts', 'main/models/f.ts'],
      ['main/models/g.ts'],
    ]);
    expect(findImportCycles(root, new Map([[f('main/x.ts'), `import { y } from './y';`], [f('main/y.ts'), `export const y = 1;`]]))).toEqual([]);
  });
});
