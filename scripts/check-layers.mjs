// Layering rule: folders show where code runs, and imports may not cross into the wrong runtime.
//   renderer/ (browser)  → renderer/, common/, browser-safe packages. Never Node built-ins or Node-only packages.
//   common/   (pure)     → common/, zod. No Node built-ins, no DOM globals.
//   preload/  (bridge)   → preload/, common/, electron.
//   main/     (Node)     → never renderer/ or preload/.
// Floors inside main/ (MAIN_FLOORS): platform < engine < engine-host < app < api < server < {cli, electron};
// farm (the render farm) sits on app, below cli;
// library and models sit beside the engine, below app. A folder imports only the folders listed for it,
// and main/engine and main/engine-host only through their index.ts (their public surface).
// No import circles anywhere (type-only imports count: a circle of types is still a knot to untie).
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

/** For each folder of main/, the other main/ folders it may import. */
export const MAIN_FLOORS = Object.freeze({
  platform: [],
  engine: ['platform'],
  // Content credentials (C2PA) and reproducibility receipts: used by library (signs what it stores) and above.
  provenance: ['platform'],
  library: ['provenance', 'platform'],
  models: ['platform'],
  'engine-host': ['engine', 'platform'],
  app: ['engine', 'engine-host', 'library', 'models', 'provenance', 'platform'],
  api: ['app', 'engine', 'engine-host', 'library', 'models', 'platform'],
  server: ['api', 'app', 'engine', 'engine-host', 'library', 'models', 'platform'],
  // The render farm (Redis + BullMQ): an executor for the app's generation service and the worker; above app.
  farm: ['app', 'engine', 'engine-host', 'library', 'models', 'platform'],
  // The A1111 / ComfyUI compatibility port: beside server, reusing its access rules (server/auth.ts).
  compat: ['server', 'api', 'app', 'engine', 'engine-host', 'library', 'models', 'platform'],
  cli: ['farm', 'compat', 'server', 'api', 'app', 'engine', 'engine-host', 'library', 'models', 'provenance', 'platform'],
  electron: ['server', 'api', 'app', 'engine', 'engine-host', 'library', 'models', 'platform'],
});

/** Folders of main/ reachable from outside only through their index.ts. */
const SEALED = ['engine', 'engine-host'];

function mainFolderOf(root, file) {
  const parts = relative(root, file).split(sep);
  return parts[0] === 'main' && parts.length > 2 ? parts[1] : null;
}

/** Floors and sealed entry points inside main/ for one import of `file`. */
function checkMainFloors(root, file, spec, bad) {
  if (!spec.startsWith('.')) return;
  const from = mainFolderOf(root, file);
  const targetFile = resolve(dirname(file), spec);
  const parts = relative(root, targetFile).split(sep);
  const to = parts[0] === 'main' && parts.length >= 2 ? parts[1].replace(/\.(ts|js|mjs)$/, '') : null;
  if (!from || !to || from === to) return;
  const allowed = MAIN_FLOORS[from];
  if (!allowed) return bad(`main/${from}/ is not in the floor table (scripts/check-layers.mjs MAIN_FLOORS)`);
  if (!allowed.includes(to)) return bad(`main/${from}/ may not import main/${to}/ (floors: ${from} may use ${allowed.join(', ') || 'nothing else in main/'})`);
  if (SEALED.includes(to)) {
    const inside = relative(join(root, 'main', to), targetFile).replace(/\.(ts|js|mjs)$/, '');
    if (inside !== '' && inside !== 'index') bad(`imports past main/${to}/index.ts — add what you need to its public surface`);
  }
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
      else checkMainFloors(root, file, spec, bad);
    }
  }
  if (layer === 'common' && DOM_GLOBALS.test(stripComments(src))) problems.push(`${rel}: common/ is pure: uses a DOM global`);
  return problems;
}

const RESOLVE_SUFFIXES = ['', '.ts', '.tsx', '.mts', '.mjs', '.js', `${sep}index.ts`, `${sep}index.tsx`];

/** The source file a relative import lands on, or null (a package, a missing or generated file). */
function resolveImport(file, spec, known) {
  if (!spec.startsWith('.')) return null;
  const base = resolve(dirname(file), spec);
  for (const suffix of RESOLVE_SUFFIXES) if (known.has(base + suffix)) return base + suffix;
  // TypeScript's ESM style: './x.js' naming './x.ts'.
  const noJs = base.replace(/\.js$/, '');
  for (const suffix of ['.ts', '.tsx']) if (known.has(noJs + suffix)) return noJs + suffix;
  return null;
}

/** Import circles among `sources` (Map file → text), each as the list of its files (Tarjan's SCC). */
export function findImportCycles(root, sources) {
  const known = new Set(sources.keys());
  const edges = new Map();
  for (const [file, src] of sources) edges.set(file, [...new Set(importsOf(src).map((s) => resolveImport(file, s, known)).filter(Boolean))]);
  let index = 0;
  const stack = [];
  const onStack = new Set();
  const idx = new Map();
  const low = new Map();
  const cycles = [];
  const strongConnect = (v) => {
    // Iterative DFS: deep import chains must not overflow the stack.
    const work = [[v, 0]];
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    while (work.length) {
      const frame = work[work.length - 1];
      const [node, i] = frame;
      const next = edges.get(node) ?? [];
      if (i < next.length) {
        frame[1]++;
        const w = next[i];
        if (!idx.has(w)) {
          idx.set(w, index);
          low.set(w, index++);
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) low.set(node, Math.min(low.get(node), idx.get(w)));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(node)));
      }
      if (low.get(node) === idx.get(node)) {
        const scc = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          scc.push(w);
        } while (w !== node);
        const selfLoop = scc.length === 1 && (edges.get(node) ?? []).includes(node);
        if (scc.length > 1 || selfLoop) cycles.push(scc.map((f) => relative(root, f)).sort());
      }
    }
  };
  for (const file of [...known].sort()) if (!idx.has(file)) strongConnect(file);
  return cycles;
}

export function checkLayers(root) {
  const problems = [];
  const sources = new Map();
  for (const layer of ['renderer', 'common', 'preload', 'main']) {
    for (const file of walk(join(root, layer))) {
      if (layer === 'renderer' && file.endsWith(`${sep}vite.config.ts`)) continue; // build config runs in Node
      const src = readFileSync(file, 'utf8');
      sources.set(file, src);
      problems.push(...checkFile(root, file, src));
    }
  }
  for (const cycle of findImportCycles(root, sources)) problems.push(`import circle: ${cycle.join(' ↔ ')}`);
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
