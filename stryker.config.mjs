// Mutation testing: `npm run test:mutation` (StrykerJS + vitest). Not part of `npm test` — too slow.
// Which code is mutated, and by which tests, is chosen by MUTATE (comma-separated target names,
// default "schedulers"; "all" = every target):
//   MUTATE=schedulers,cfg npm run test:mutation
// Narrow further with Stryker's own flags, e.g. one file and no type checker (much faster on a busy
// 2-core machine; mutants that would not compile then count as survivors instead of being discarded):
//   npm run test:mutation -- --mutate main/engine/schedulers/heun.ts --checkers ""
// Incremental: results live in node_modules/.cache/stryker/<targets>.json, so a re-run only tests the
// mutants whose code or covering tests changed (`-- --force` re-runs everything). Scores, dates and the
// survivors that are equivalent mutants: docs/TESTING.md.
const TARGETS = {
  schedulers: {
    mutate: ['main/engine/schedulers/**/*.ts'],
    testFiles: ['test/engine/schedulers/**/*.test.ts', 'test/common/schedulers.test.ts'],
  },
  random: { mutate: ['main/engine/random.ts'], testFiles: ['test/engine/random.test.ts'] },
  cfg: { mutate: ['main/engine/cfg.ts'], testFiles: ['test/engine/cfg.test.ts', 'test/engine/cfg-guidance.test.ts'] },
  prompt: { mutate: ['main/engine/prompt/**/*.ts'], testFiles: ['test/engine/prompt/**/*.test.ts', 'test/engine/prompt-weighting-pipeline.test.ts'] },
  pipeline: {
    mutate: ['main/engine/pipeline.ts', 'main/engine/pipeline/**/*.ts'],
    // Not all of test/engine (schedulers' goldens, engine processes, soak, loader…): only the files that
    // run txt2img / img2img / inpaint or call check.ts / conditioning.ts directly (~8 s in all).
    testFiles: [
      'test/engine/{pipeline,img2img,inpaint,cfg-guidance,prompt-weighting-pipeline,sdxl,lcm-turbo,pipeline-mutation,pipeline-mutation-2,encode-mutation,clip-skip,vae-tiling}.test.ts',
    ],
  },
  // The same folder in two smaller groups, so a run on a busy machine stays short.
  // Prompt → embeddings: A1111 chunking / emphasis / scheduling, clip skip, SDXL's two encoders.
  'pipeline-encode': {
    mutate: ['main/engine/pipeline/{encode-prompt,text-encoders}.ts'],
    testFiles: ['test/engine/{pipeline,clip-skip,sdxl,prompt-weighting-pipeline,encode-mutation}.test.ts'],
  },
  // txt2img's glue, the VAE (encode, decode, tiling, fp16 overflow check), tensor helpers, timings.
  'pipeline-vae': {
    mutate: ['main/engine/pipeline.ts', 'main/engine/pipeline/{txt2img,vae,vae-precision,vae-tiling,tensors,result}.ts'],
    // Not img2img / inpaint / vae-tiling (seconds per mutant on real decoders): pipeline-mutation-2
    // checks the same VAE glue with recording fakes in milliseconds.
    testFiles: ['test/engine/{pipeline,pipeline-mutation-2}.test.ts'],
  },
  library: {
    mutate: ['main/library/{project-library,project-files,reconcile,queries,infotext}.ts'],
    // Not crash.test.ts (4 min of SIGKILLed child processes, which never run a mutant), nor the
    // registry / lock / metadata-fuzz / signing files that do not exercise these four files.
    testFiles: [
      'test/library/{project-library,query-plans,durability,move,migrations,transfer,infotext,library-mutation,project-files-mutation,project-library-mutation}.test.ts',
      'test/common/infotext.test.ts',
    ],
  },
  // The library's two big files, one target each (every test that saves an image covers both, so
  // together they run minutes per survivor on a busy 2-core machine). Not project-library.test.ts
  // while it fails (a failing test stops Stryker before it starts).
  // Folder layout, atomic writes, PNG chunks, the standalone export:
  'library-files': {
    mutate: ['main/library/project-files.ts'],
    testFiles: ['test/library/{durability,project-files-mutation}.test.ts'],
  },
  // Create / open / close, the checks before a save, thumbnails, settings, paging, purging:
  'library-project': {
    mutate: ['main/library/project-library.ts'],
    testFiles: ['test/library/{durability,project-library-mutation}.test.ts'],
  },
  // Only the tests that parse requests directly: test/api starts servers and a library per file, and
  // test/renderer cannot run in the sandbox (renderer/ is not copied, see ignorePatterns).
  schemas: { mutate: ['common/api/schemas.ts'], testFiles: ['test/common/schemas-contract.test.ts', 'test/common/generation-params.test.ts'] },
};

const requested = (process.env.MUTATE ?? 'schedulers').split(',').map((s) => s.trim()).filter(Boolean);
const names = requested.includes('all') ? Object.keys(TARGETS) : requested;
for (const n of names) if (!TARGETS[n]) throw new Error(`MUTATE: unknown target "${n}" (known: ${Object.keys(TARGETS).join(', ')}, all)`);
const pick = (key) => [...new Set(names.flatMap((n) => TARGETS[n][key]))];
const label = names.join('+');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.config.ts', related: false },
  mutate: pick('mutate'),
  testFiles: pick('testFiles'),
  coverageAnalysis: 'perTest',
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  incremental: true,
  incrementalFile: `node_modules/.cache/stryker/${label}.json`,
  // The project's machines have 2 busy cores: one test runner (override with --concurrency).
  concurrency: 1,
  timeoutMS: 20_000,
  timeoutFactor: 3,
  // Static mutants (module-level constants: the SCHEDULER_DEFAULTS table, PNDM's 1/6, LMS's quadrature
  // nodes…) are never activated by the vitest runner here — it does not reload modules between mutants —
  // so they would all be reported as survivors whatever the tests do (planted by hand they are caught:
  // docs/TESTING.md). Ignore them rather than report a false hole.
  ignoreStatic: true,
  tempDirName: 'node_modules/.cache/stryker/tmp',
  // Only what the tests read travels to the sandbox (node_modules is linked, not copied).
  ignorePatterns: ['dist', 'docs', 'bench', 'renderer', 'release', 'out', 'test-results', 'playwright-report', 'models/tools', '.ci', 'shared'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `node_modules/.cache/stryker/${label}.html` },
  jsonReporter: { fileName: `node_modules/.cache/stryker/${label}.report.json` },
  thresholds: { high: 85, low: 75, break: null },
};
