import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import * as S from '../../common/api/schemas';
import { PROVIDER_NAMES } from '../../common/providers';

// The API's request schemas as a contract: for every field, a value inside its range is accepted
// and values past either end (or of the wrong kind) are refused; unknown keys are refused;
// defaults are what the API documents. Added for the mutation run on common/api/schemas.ts
// (docs/TESTING.md): the route tests only ever send well-formed requests.

const ID = '01HZX3K9Q8W7V6T5R4P3N2M1AB';
const str = (n: number): string => 'x'.repeat(n);

function issues(schema: z.ZodType, value: unknown): z.core.$ZodIssue[] {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues;
}
/** The value passes and parses to `parsed` when given. */
function accepts(schema: z.ZodType, value: unknown, parsed?: unknown): void {
  const r = schema.safeParse(value);
  expect(r.success, `${JSON.stringify(value)?.slice(0, 120)} should pass: ${r.success ? '' : JSON.stringify(r.error.issues)}`).toBe(true);
  if (parsed !== undefined && r.success) expect(r.data).toEqual(parsed);
}
/** The value is refused; `message` (substring) and `path` of one issue checked when given. */
function rejects(schema: z.ZodType, value: unknown, message?: string, path?: Array<string | number>): void {
  const found = issues(schema, value);
  expect(found.length, `${JSON.stringify(value)?.slice(0, 120)} should be refused`).toBeGreaterThan(0);
  if (message !== undefined) expect(found.map((i) => i.message).join(' | ')).toContain(message);
  if (path !== undefined) expect(found.map((i) => i.path)).toContainEqual(path);
}
/** Each `[field, good, ...bad]` row: `{...base, field: good}` passes, each bad value is refused. */
function fieldRows(schema: z.ZodType, base: Record<string, unknown>, rows: Array<[string, unknown, ...unknown[]]>): void {
  for (const [field, good, ...bad] of rows) {
    accepts(schema, { ...base, [field]: good });
    for (const b of bad) rejects(schema, { ...base, [field]: b });
  }
}

describe('enums and small unions', () => {
  it('RNG kinds, providers, upscale factors, disclosure', () => {
    for (const v of ['cpu', 'cuda']) accepts(S.RngKind, v);
    rejects(S.RngKind, 'gpu');
    for (const v of ['auto', ...PROVIDER_NAMES]) accepts(S.ExecutionProviderChoice, v);
    rejects(S.ExecutionProviderChoice, 'tpu');
    for (const v of [2, 4]) accepts(S.UpscaleFactor, v);
    for (const v of [1, 3, 8, '2']) rejects(S.UpscaleFactor, v);
    for (const v of ['full', 'ai-only']) accepts(S.CredentialsDisclosure, v);
    rejects(S.CredentialsDisclosure, 'none');
    accepts(S.ProjectCredentialsRequest, { disclosure: 'ai-only' });
    rejects(S.ProjectCredentialsRequest, { disclosure: 'ai-only', extra: 1 });
  });

  it('image sources: a generation id or file bytes, nothing else', () => {
    accepts(S.ImageSource, { generationId: ID });
    accepts(S.ImageSource, { base64: 'iVBORw0KGgo=' });
    for (const v of [{ generationId: '' }, { generationId: str(201) }, { base64: '' }, { base64: 'aa', generationId: ID }, {}]) rejects(S.ImageSource, v);
    accepts(S.VerifyImageRequest, { id: ID });
    accepts(S.VerifyImageRequest, { base64: 'aGk=' });
    rejects(S.VerifyImageRequest, { id: '' });
    rejects(S.VerifyImageRequest, { id: ID, base64: 'aGk=' });
  });

  it('empty requests: nothing, or an empty object', () => {
    for (const s of [S.EmptyRequest, S.ListLorasRequest]) {
      accepts(s, undefined);
      accepts(s, {});
      rejects(s, { a: 1 });
      rejects(s, null);
    }
  });
});

describe('SchedulerOptions (scheduler_config.json overrides)', () => {
  it('accepts the documented keys and values, refuses others', () => {
    accepts(S.SchedulerOptions, {});
    accepts(S.SchedulerOptions, { use_karras_sigmas: true, use_lu_lambdas: false, timestep_spacing: 'trailing', solver_order: 3, final_sigmas_type: 'sigma_min' });
    fieldRows(S.SchedulerOptions, {}, [
      ['use_karras_sigmas', false, 'yes', 1],
      ['use_lu_lambdas', true, 'no'],
      ['timestep_spacing', 'leading', 'random'],
      ['timestep_spacing', 'linspace'],
      ['solver_order', 1, 0, 4, 2.5],
      ['solver_order', 2],
      ['final_sigmas_type', 'zero', 'one'],
    ]);
    rejects(S.SchedulerOptions, { beta_schedule: 'linear' });
  });
});

describe('OutpaintRequest', () => {
  const none = { left: 0, right: 0, top: 0, bottom: 0 };
  it('needs pixels on at least one side, each side 0–2048 whole pixels', () => {
    rejects(S.OutpaintRequest, none, 'add pixels on at least one side');
    for (const side of ['left', 'right', 'top', 'bottom']) {
      accepts(S.OutpaintRequest, { ...none, [side]: 64 });
      accepts(S.OutpaintRequest, { ...none, [side]: 2048 });
      for (const bad of [-8, 2049, 1.5]) rejects(S.OutpaintRequest, { ...none, left: 8, [side]: bad });
    }
    for (const fill of ['edge', 'noise', 'blur']) accepts(S.OutpaintRequest, { ...none, top: 8, fill });
    rejects(S.OutpaintRequest, { ...none, top: 8, fill: 'mirror' });
    rejects(S.OutpaintRequest, { ...none, top: 8, extra: true });
  });
});

describe('GenerateRequest', () => {
  const G = S.GenerateRequest;
  const base = { prompt: 'a red cube' };

  it('fills the documented defaults', () => {
    accepts(G, base, { prompt: 'a red cube', negativePrompt: '', width: 64, height: 64, steps: 20, guidanceScale: 5, guidanceRescale: 0, seed: -1, rng: 'cpu', batchSize: 1 });
  });

  it('bounded numbers come with the shared messages', () => {
    rejects(G, { ...base, width: 4104 }, 'must be from 8 to 4096', ['width']);
    rejects(G, { ...base, height: 0 }, 'must be from 8 to 4096', ['height']);
    rejects(G, { ...base, width: 100 }, 'must be a multiple of 8', ['width']);
    rejects(G, { ...base, steps: 2.5 }, 'must be a whole number', ['steps']);
    rejects(G, { ...base, seed: -2 }, '-1 (random) or a whole number from 0 to 4294967295', ['seed']);
    accepts(G, { ...base, guidanceScale: 7.5 });
  });

  it('every field: a good value passes, values past its ends or of the wrong kind are refused', () => {
    fieldRows(G, base, [
      ['modelId', ID, '', str(201)],
      ['prompt', str(20_000), str(20_001), 5],
      ['negativePrompt', 'blurry', str(20_001)],
      ['width', 512, 4, 4104, 516],
      ['height', 4096, 0, 8192],
      ['steps', 500, 0, 501, 2.5],
      ['guidanceScale', 0, -0.5, 50.5],
      ['guidanceScale', 50],
      ['guidanceRescale', 0.7, -0.1, 1.1],
      ['guidanceRescale', 1],
      ['clipSkip', 2, 0, 13, 1.5],
      ['clipSkip', 12],
      ['scheduler', 'EulerDiscreteScheduler', str(101)],
      ['schedulerOptions', { use_karras_sigmas: true }, { karras: true }],
      ['seed', 4294967295, 4294967296, 1.5],
      ['seed', 0],
      ['rng', 'cuda', 'gpu'],
      ['batchSize', 16, 0, 17],
      ['parentId', ID, '', str(201)],
      ['initImage', { generationId: ID }, { path: '/tmp/x.png' }],
      ['strength', 0.75, -0.1, 1.1],
      ['strength', 0],
      ['strength', 1],
      ['fit', 'crop', 'stretch'],
      ['fit', 'resize'],
      ['fit', 'pad'],
      ['maskBlur', 64, -1, 65],
      ['maskBlur', 0],
      ['inpaintOnlyMasked', { padding: 32 }, { padding: -1 }, { padding: 1025 }, { padding: 1.5 }, { padding: 32, extra: 1 }],
      ['inpaintOnlyMasked', { padding: 1024 }],
      ['upscale', 4, 3],
      ['source', 'a1111', 'invokeai'],
      ['source', 'comfyui'],
      ['loraHashes', [{ name: 'detail', hash: 'a1b2c3d4e5' }], [{ name: '', hash: 'a1b2c3d4e5' }], [{ name: 'd', hash: 'a1b2c3d4e' }], [{ name: 'd', hash: 'g1b2c3d4e5' }], [{ name: 'd', hash: 'a'.repeat(65) }], [{ name: str(201), hash: 'a1b2c3d4e5' }]],
      ['loraHashes', [{ name: 'd', hash: 'A'.repeat(64) }]],
      ['loraHashes', Array.from({ length: 64 }, (_, i) => ({ name: `l${i}`, hash: 'abcdef0123' })), Array.from({ length: 65 }, (_, i) => ({ name: `l${i}`, hash: 'abcdef0123' }))],
    ]);
    rejects(G, { ...base, cfg: 7 });
    rejects(G, {});
  });

  it('image-to-image options need the image they act on', () => {
    const init = { initImage: { generationId: ID } };
    const mask = { mask: { base64: 'aGk=' } };
    const outpaint = { outpaint: { left: 64, right: 0, top: 0, bottom: 0 } };
    accepts(G, { ...base, ...init, ...mask, maskBlur: 4 });
    rejects(G, { ...base, ...mask }, 'mask requires initImage', ['mask']);
    rejects(G, { ...base, ...init, mask: { base64: '' } });
    rejects(G, { ...base, ...init, mask: { base64: 'aGk=', extra: 1 } });
    accepts(G, { ...base, ...init, ...outpaint });
    rejects(G, { ...base, ...outpaint }, 'outpaint requires initImage', ['outpaint']);
    rejects(G, { ...base, ...init, ...outpaint, ...mask }, 'outpaint builds its own mask', ['mask']);
    accepts(G, { ...base, upscale: 2, upscaler: 'lanczos' });
    accepts(G, { ...base, upscale: 2 });
    rejects(G, { ...base, upscaler: 'lanczos' }, 'upscaler requires upscale', ['upscaler']);
    rejects(G, { ...base, upscale: 2, upscaler: '' });
    rejects(G, { ...base, upscale: 2, upscaler: str(201) });
  });
});

describe('job, model and project requests', () => {
  it('ids: 1–200 characters, strict objects', () => {
    const idSchemas: Array<[z.ZodType, string]> = [
      [S.JobIdRequest, 'jobId'],
      [S.GenerationIdRequest, 'id'],
      [S.OpenProjectRequest, 'projectId'],
      [S.DeleteProjectRequest, 'projectId'],
      [S.ModelIdRequest, 'modelId'],
      [S.BoardIdRequest, 'boardId'],
    ];
    for (const [schema, key] of idSchemas) {
      accepts(schema, { [key]: ID });
      accepts(schema, { [key]: str(200) });
      rejects(schema, { [key]: '' });
      rejects(schema, { [key]: str(201) });
      rejects(schema, { [key]: ID, extra: 1 });
    }
  });

  it('upscale, move-in-queue, load-model, archive', () => {
    accepts(S.UpscaleImageRequest, { generationId: ID, factor: 4, upscaler: 'realesrgan-x4' });
    fieldRows(S.UpscaleImageRequest, { generationId: ID, factor: 2 }, [['upscaler', 'lanczos', '', str(201)], ['factor', 4, 3]]);
    fieldRows(S.MoveJobRequest, { jobId: ID }, [['position', 0, -1, 100_001, 1.5], ['position', 100_000]]);
    accepts(S.LoadModelRequest, { modelId: ID }, { modelId: ID, provider: 'auto' });
    rejects(S.LoadModelRequest, { modelId: ID, provider: 'tpu' });
    accepts(S.ArchiveProjectRequest, { projectId: ID, archived: true });
    rejects(S.ArchiveProjectRequest, { projectId: ID, archived: 'yes' });
    rejects(S.ArchiveProjectRequest, { projectId: ID });
  });

  it('project and board names are trimmed, 1–120 characters', () => {
    const named: Array<[z.ZodType, Record<string, unknown>]> = [
      [S.CreateProjectRequest, {}],
      [S.RenameProjectRequest, { projectId: ID }],
      [S.CreateBoardRequest, {}],
      [S.RenameBoardRequest, { boardId: ID }],
    ];
    for (const [schema, rest] of named) {
      accepts(schema, { ...rest, name: '  Portraits  ' }, { ...rest, name: 'Portraits' });
      accepts(schema, { ...rest, name: ` ${str(120)} ` });
      rejects(schema, { ...rest, name: '   ' });
      rejects(schema, { ...rest, name: str(121) });
      rejects(schema, { ...rest, name: 'x', extra: 1 });
    }
  });

  it('id lists: 1–10,000 ids', () => {
    accepts(S.GenerationIdsRequest, { ids: [ID] });
    rejects(S.GenerationIdsRequest, { ids: [] });
    rejects(S.GenerationIdsRequest, { ids: [''] });
    rejects(S.GenerationIdsRequest, { ids: Array.from({ length: 10_001 }, () => ID) });
    accepts(S.MoveGenerationsRequest, { ids: [ID], projectId: ID });
    rejects(S.MoveGenerationsRequest, { ids: [], projectId: ID });
    rejects(S.MoveGenerationsRequest, { ids: [ID], projectId: '' });
    accepts(S.BoardMembershipRequest, { boardId: ID, ids: [ID], member: false });
    rejects(S.BoardMembershipRequest, { boardId: ID, ids: [], member: true });
    rejects(S.BoardMembershipRequest, { boardId: ID, ids: [ID], member: 'no' });
    accepts(S.ImportImagesRequest, { paths: ['/pictures/a.png'] });
    for (const paths of [[], [''], [str(4097)]]) rejects(S.ImportImagesRequest, { paths });
  });

  it('tags: trimmed names, something to add or remove', () => {
    accepts(S.SetTagsRequest, { ids: [ID], add: ['  sky '] }, { ids: [ID], add: ['sky'], remove: [] });
    accepts(S.SetTagsRequest, { ids: [ID], remove: ['sky'] }, { ids: [ID], add: [], remove: ['sky'] });
    rejects(S.SetTagsRequest, { ids: [ID] }, 'give tags to add or remove', ['add']);
    rejects(S.SetTagsRequest, { ids: [ID], add: ['  '] });
    rejects(S.SetTagsRequest, { ids: [ID], add: [str(101)] });
    rejects(S.SetTagsRequest, { ids: [ID], remove: Array.from({ length: 101 }, (_, i) => `t${i}`) });
    rejects(S.SetTagsRequest, { ids: [], add: ['sky'] });
  });
});

describe('history and generation edits', () => {
  it('HistoryQuery: page size 1–500 (default 100), ratings 0–5, documented filters', () => {
    accepts(S.HistoryQuery, {}, { limit: 100 });
    fieldRows(S.HistoryQuery, {}, [
      ['limit', 500, 0, 501, 2.5],
      ['limit', 1],
      ['cursor', 't.1.abc', str(201)],
      ['search', 'red cube tag:sky', str(501)],
      ['minRating', 5, -1, 6, 2.5],
      ['minRating', 0],
      ['flag', 'pick', 'maybe'],
      ['flag', 'reject'],
      ['flag', 'none'],
      ['tag', 'sky', str(101)],
      ['boardId', ID, ''],
      ['model', 'sd15', str(201)],
      ['scheduler', 'DDIMScheduler', str(101)],
      ['seed', 42, 1.5, '42'],
      ['parentId', ID, ''],
      ['trashed', true, 'yes'],
    ]);
    rejects(S.HistoryQuery, { text: 'x' });
  });

  it('UpdateGenerationRequest: rating 0–5, flag, trimmed tags, notes up to 10,000 characters', () => {
    accepts(S.UpdateGenerationRequest, { id: ID, tags: [' sky '] }, { id: ID, tags: ['sky'] });
    fieldRows(S.UpdateGenerationRequest, { id: ID }, [
      ['rating', 0, -1, 6, 1.5],
      ['rating', 5],
      ['flag', 'reject', 'maybe'],
      ['tags', ['sky'], [' '], [str(101)], Array.from({ length: 101 }, (_, i) => `t${i}`)],
      ['notes', str(10_000), str(10_001)],
    ]);
    rejects(S.UpdateGenerationRequest, { rating: 3 });
  });

  it('ReadMetadataRequest: base64 only', () => {
    accepts(S.ReadMetadataRequest, { base64: '' });
    accepts(S.ReadMetadataRequest, { base64: 'iVBORw0KGgo=' });
    rejects(S.ReadMetadataRequest, { base64: 'aGk=', name: 'x.png' });
    rejects(S.ReadMetadataRequest, {});
  });
});

describe('settings and model management', () => {
  const settings = { provider: 'auto', modelsDir: '/models', defaultModelId: 'sd15', previewEvery: 5, lowMemory: false };

  it('Settings: every field required, ranges as documented in README "Settings"', () => {
    accepts(S.Settings, settings);
    for (const key of Object.keys(settings)) {
      const { [key]: _omitted, ...rest } = settings as Record<string, unknown>;
      rejects(S.Settings, rest);
    }
    fieldRows(S.Settings, settings, [
      ['provider', 'cpu', 'tpu'],
      ['modelsDir', str(4096), str(4097)],
      ['defaultModelId', '', str(201)],
      ['previewEvery', 0, -1, 101, 1.5],
      ['previewEvery', 100],
      ['lowMemory', true, 'yes'],
      ['previewDecoder', 'taesd', 'fast'],
      ['previewDecoder', 'approx'],
      ['previewDecoder', 'auto'],
      ['maxEngineMemoryMB', 256, 255, 16_777_217, 1024.5],
      ['maxEngineMemoryMB', 16_777_216],
    ]);
    rejects(S.Settings, { ...settings, theme: 'dark' });
  });

  it('gpuDeviceId: a whole GPU index 0–63, each mistake with its own message', () => {
    accepts(S.Settings, { ...settings, gpuDeviceId: 0 });
    accepts(S.Settings, { ...settings, gpuDeviceId: S.GPU_DEVICE_ID_MAX });
    rejects(S.Settings, { ...settings, gpuDeviceId: '1' }, 'gpuDeviceId must be a number: the GPU index (0, 1, 2…)', ['gpuDeviceId']);
    rejects(S.Settings, { ...settings, gpuDeviceId: 1.5 }, 'gpuDeviceId must be a whole number: the GPU index (0, 1, 2…)', ['gpuDeviceId']);
    rejects(S.Settings, { ...settings, gpuDeviceId: -1 }, 'gpuDeviceId cannot be negative: 0 is the first GPU', ['gpuDeviceId']);
    rejects(S.Settings, { ...settings, gpuDeviceId: 64 }, 'gpuDeviceId must be at most 63', ['gpuDeviceId']);
    expect(S.GPU_DEVICE_ID_MAX).toBe(63);
  });

  it('ProbeGpuDevicesRequest: nothing, or an optional provider', () => {
    accepts(S.ProbeGpuDevicesRequest, undefined);
    accepts(S.ProbeGpuDevicesRequest, {});
    accepts(S.ProbeGpuDevicesRequest, { provider: 'cuda' });
    rejects(S.ProbeGpuDevicesRequest, { provider: 'tpu' });
    rejects(S.ProbeGpuDevicesRequest, { provider: 'cuda', deviceId: 1 });
  });

  it('UpdateSettingsRequest: any subset of the settings, nothing else', () => {
    accepts(S.UpdateSettingsRequest, {});
    accepts(S.UpdateSettingsRequest, { lowMemory: true });
    rejects(S.UpdateSettingsRequest, { previewEvery: 101 });
    rejects(S.UpdateSettingsRequest, { theme: 'dark' });
  });

  it('DoctorModelRequest: provider default auto, sizes 8–8192 in steps of 8, batch 1–64', () => {
    accepts(S.DoctorModelRequest, { modelId: ID }, { modelId: ID, provider: 'auto' });
    fieldRows(S.DoctorModelRequest, { modelId: ID }, [
      ['width', 8192, 0, 8200, 100],
      ['width', 8],
      ['height', 512, 4, 8200, 513],
      ['batch', 64, 0, 65, 1.5],
      ['batch', 1],
      ['provider', 'cpu', 'tpu'],
    ]);
  });

  it('PullModelRequest and ImportModelRequest', () => {
    accepts(S.PullModelRequest, { source: '  stabilityai/sd-turbo ' }, { source: 'stabilityai/sd-turbo' });
    fieldRows(S.PullModelRequest, { source: 'sd15' }, [
      ['source', str(500), '   ', str(501)],
      ['revision', 'main', str(201)],
      ['id', 'sd15', str(101)],
      ['token', 'hf_abc', str(501)],
      ['variant', 'generic', '  ', str(101)],
    ]);
    accepts(S.PullModelRequest, { source: 'sd15', variant: ' cuda-fp16 ' }, { source: 'sd15', variant: 'cuda-fp16' });
    rejects(S.PullModelRequest, { source: 'sd15', url: 'x' });
    accepts(S.ImportModelRequest, { folder: '/m/sd15' }, { folder: '/m/sd15', mode: 'reference' });
    fieldRows(S.ImportModelRequest, { folder: '/m/sd15' }, [
      ['folder', str(4096), '', str(4097)],
      ['mode', 'copy', 'move'],
      ['id', 'sd15', str(101)],
      ['name', 'SD 1.5', str(201)],
    ]);
  });
});

describe('export requests', () => {
  it('ExportRequest: either ids or a board, a destination, format default png, quality 1–100', () => {
    accepts(S.ExportRequest, { ids: [ID], to: '/out' }, { ids: [ID], to: '/out', format: 'png' });
    accepts(S.ExportRequest, { boardId: ID, to: '/out.zip', format: 'webp', quality: 80 });
    rejects(S.ExportRequest, { to: '/out' }, 'give either ids or boardId', ['ids']);
    rejects(S.ExportRequest, { ids: [ID], boardId: ID, to: '/out' }, 'give either ids or boardId', ['ids']);
    fieldRows(S.ExportRequest, { ids: [ID], to: '/out' }, [
      ['to', str(4096), '', str(4097)],
      ['format', 'jpeg', 'gif'],
      ['format', 'png'],
      ['format', 'webp'],
      ['quality', 100, 0, 101, 50.5],
      ['quality', 1],
      ['ids', [ID], [], ['']],
    ]);
  });

  it('ExportDownloadRequest: the same without a destination', () => {
    accepts(S.ExportDownloadRequest, { boardId: ID }, { boardId: ID, format: 'png' });
    rejects(S.ExportDownloadRequest, {}, 'give either ids or boardId', ['ids']);
    rejects(S.ExportDownloadRequest, { ids: [ID], boardId: ID });
    rejects(S.ExportDownloadRequest, { ids: [ID], to: '/out' });
    fieldRows(S.ExportDownloadRequest, { ids: [ID] }, [
      ['format', 'webp', 'tiff'],
      ['format', 'png'],
      ['format', 'jpeg'],
      ['quality', 1, 0, 101],
      ['ids', [ID], []],
      ['boardId', undefined, ''],
    ]);
  });
});
