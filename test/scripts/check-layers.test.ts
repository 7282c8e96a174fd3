import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
// @ts-expect-error plain .mjs script without type declarations
import { checkFile, checkLayers, importsOf } from '../../scripts/check-layers.mjs';

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
});
