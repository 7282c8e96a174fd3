// Layering rule: folders show where code runs, and imports may not cross into the wrong runtime.
//   renderer/ (browser)  → renderer/, common/, browser-safe packages. Never Node built-ins or Node-only packages.
//   common/   (pure)     → common/, zod. No Node built-ins, no DOM globals.
//   preload/  (bridge)   → preload/, common/, electron.
//   main/     (Node)     → never renderer/ or preload/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve, dirname, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const NODE_ONLY_PACKAGES = ['onnxruntime-node', 'better-sqlite3', 'sharp', 'ws', 'electron', 'png-chunks-extract', 'png-chunks-encode', 'png-chunk-text', 'tsx', 'esbuild'];
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const DOM_GLOBALS = /\b(window|document|localStorage|sessionStorage|navigator)\s*\./;
const SOURCE = /\.(ts|tsx|mts|cts|js|mjs)$/;

const IMPORT_RE = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

function walk(dir, out = []) {
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (SOURCE.test(name)) out.push(p);
  }
  return out;
}

function stripComments(src) {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

export function importsOf(src) {
  const found = [];
  for (const m of stripComments(src).matchAll(IMPORT_RE)) found.push(m[1] ?? m[2] ?? m[3]);
  return found;
}

function packageName(spec) {
  if (spec.startsWith('@')) return spec.split('/').slice(0, 2).join('/');
  return spec.split('/')[0];
}

function layerOf(root, file) {
  return relative(root, file).split(sep)[0];
}

export function checkFile(root, file, src) {
  const layer = layerOf(root, file);
  const problems = [];
  const rel = relative(root, file);
  for (const spec of importsOf(src)) {
    const isRelative = spec.startsWith('.');
    const target = isRelative ? layerOf(root, resolve(dirname(file), spec)) : null;
    const pkg = isRelative ? null : packageName(spec);
    const builtin = !isRelative && (BUILTINS.has(spec) || BUILTINS.has(pkg));
    const bad = (why) => problems.push(`${rel}: imports '${spec}' — ${why}`);
    if (layer === 'renderer') {
      if (builtin) bad('Node built-ins cannot run in the renderer');
      else if (pkg && NODE_ONLY_PACKAGES.includes(pkg)) bad(`${pkg} is Node-only; reach it through the AtelierApi`);
      else if (target && !['renderer', 'common'].includes(target)) bad(`renderer may import only renderer/ and common/, not ${target}/`);
    } else if (layer === 'common') {
      if (builtin) bad('common/ is pure: no Node built-ins');
      else if (pkg && pkg !== 'zod') bad('common/ is pure: only zod may be imported');
      else if (target && target !== 'common') bad(`common/ may import only common/, not ${target}/`);
    } else if (layer === 'preload') {
      if (builtin) bad('the sandboxed preload cannot use Node built-ins');
      else if (pkg && pkg !== 'electron') bad('the preload may import only electron');
      else if (target && !['preload', 'common'].includes(target)) bad(`preload may import only preload/ and common/, not ${target}/`);
    } else if (layer === 'main') {
      if (target === 'renderer' || target === 'preload') bad(`main/ may not import ${target}/`);
    }
  }
  if (layer === 'common' && DOM_GLOBALS.test(stripComments(src))) problems.push(`${rel}: common/ is pure: uses a DOM global`);
  return problems;
}

export function checkLayers(root) {
  const problems = [];
  for (const layer of ['renderer', 'common', 'preload', 'main']) {
    for (const file of walk(join(root, layer))) {
      if (layer === 'renderer' && file.endsWith(`${sep}vite.config.ts`)) continue; // build config runs in Node
      problems.push(...checkFile(root, file, readFileSync(file, 'utf8')));
    }
  }
  return problems;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const problems = checkLayers(root);
  if (problems.length) {
    console.error(`Layering violations (${problems.length}):\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log('layers ok');
}
