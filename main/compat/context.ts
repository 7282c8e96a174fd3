/** What the A1111 and ComfyUI adapters share: the backend, validated API calls, jobs, models, queue state. */
import { readFile } from 'node:fs/promises';
import type { GenerationRecord } from '../../common/api/contract';
import type { Dispatcher } from '../api/dispatch';
import type { AtelierBackend } from '../app/backend';
import type { BackendActivity } from './activity';
import type { CompatJobs } from './jobs';
import type { CompatModels } from './models';

export interface CompatContext {
  backend: AtelierBackend;
  dispatch: Dispatcher;
  jobs: CompatJobs;
  models: CompatModels;
  activity: BackendActivity;
  appVersion: string;
  log(message: string): void;
}

/** The stored PNG of a generation (it carries the A1111 `parameters` chunk), or null. */
export async function generationPng(ctx: CompatContext, record: Pick<GenerationRecord, 'id'>): Promise<Buffer | null> {
  const file = await ctx.backend.resolveImage(record.id, 'image');
  if (!file) return null;
  try {
    return await readFile(file);
  } catch {
    return null;
  }
}
