/**
 * The one mapping from any failure to the API's typed error. Errors that cross the engine worker
 * boundary arrive re-created with their original `name` (EngineWorkerError), so those are matched
 * by name (the table below); errors raised in this process are matched by class (instanceof).
 */
import { AtelierApiError } from '../../common/api/contract';
import { ZodError } from 'zod';
import { UpscaleError } from '../engine';
import { LibraryError, LibraryNotFoundError } from '../library';

export function zodToApiError(method: string, error: ZodError): AtelierApiError {
  const issues = error.issues.map((i) => ({ path: i.path.join('.') || '(payload)', message: i.message }));
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return new AtelierApiError('invalid_request', `Invalid request for ${method}: ${summary}`, issues);
}

/** Engine and model-manager error names (also after a worker hop) → API codes. */
const CODE_BY_ERROR_NAME: Readonly<Record<string, 'cancelled' | 'invalid_request' | 'model_error'>> = Object.freeze({
  CancelledError: 'cancelled',
  PipelineInputError: 'invalid_request',
  PromptSyntaxError: 'invalid_request',
  InvalidModelIdError: 'invalid_request',
  ModelLoadError: 'model_error',
  SessionCreateError: 'model_error',
  CatalogError: 'model_error',
  PlanError: 'model_error',
  HubError: 'model_error',
  DownloadError: 'model_error',
  ModelStoreError: 'model_error',
  // The memory guard refused a generation before it started (too large for this machine or the cap).
  MemoryLimitError: 'invalid_request',
});

export function toApiError(err: unknown, log: (err: unknown) => void = () => {}): AtelierApiError {
  if (err instanceof AtelierApiError) return err;
  if (err instanceof ZodError) return zodToApiError('call', err);
  if (err instanceof UpscaleError) return new AtelierApiError('invalid_request', err.message);
  const e = err as { name?: string; message?: string; code?: string };
  const message = e?.message ? String(e.message) : 'Error';
  const code = typeof e?.name === 'string' && Object.prototype.hasOwnProperty.call(CODE_BY_ERROR_NAME, e.name) ? CODE_BY_ERROR_NAME[e.name] : undefined;
  // Model-manager errors carry their own codes; "not-found" is the one clients branch on.
  if (code === 'model_error' && e.code === 'not-found') return new AtelierApiError('not_found', message);
  if (code) return new AtelierApiError(code, message);
  // The library's own checks: something the client named is not there, or a name/folder it chose is wrong.
  // (Its named failures — a newer schema, a project locked elsewhere — are not the client's mistake.)
  if (err instanceof LibraryNotFoundError) return new AtelierApiError('not_found', message);
  if (err instanceof LibraryError && Object.getPrototypeOf(err) === LibraryError.prototype) return new AtelierApiError('invalid_request', message);
  log(err);
  return new AtelierApiError('internal', e?.message ? String(e.message) : 'Internal error');
}
