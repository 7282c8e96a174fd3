/**
 * The one entry point of every API call on the Node side, whatever the transport: validates the
 * payload against the method's schema, runs the implementation, and turns every failure into a
 * typed ApiResult error instead of a crash.
 */
import { apiMethods, type ApiMethodName, type ApiResult, type AtelierApi } from '../../common/api/contract';
import { toApiError, zodToApiError } from '../app/api-errors';

export { toApiError } from '../app/api-errors';

export type Dispatcher = (method: unknown, payload: unknown) => Promise<ApiResult>;

export function isApiMethod(method: unknown): method is ApiMethodName {
  return typeof method === 'string' && Object.prototype.hasOwnProperty.call(apiMethods, method);
}

/** A method name for an error message; never calls into the value (a `toString` may be anything). */
function describeMethod(method: unknown): string {
  if (typeof method === 'string') return JSON.stringify(method.slice(0, 100));
  if (method === null) return 'null';
  if (Array.isArray(method)) return 'an array';
  return `a value of type ${typeof method}`;
}

export function createDispatcher(impl: AtelierApi, log: (err: unknown) => void = () => {}): Dispatcher {
  return async (method, payload) => {
    // Every path ends in an ApiResult: a throw here would be an unhandled rejection in the transport.
    try {
      if (!isApiMethod(method)) {
        return { ok: false, error: { code: 'unknown_method', message: `Unknown API method: ${describeMethod(method)}` } };
      }
      const parsed = apiMethods[method].safeParse(payload);
      if (!parsed.success) return { ok: false, error: zodToApiError(method, parsed.error).toShape() };
      const fn = impl[method] as (req: unknown) => Promise<unknown>;
      const value = await fn.call(impl, parsed.data);
      return { ok: true, value };
    } catch (err) {
      try {
        return { ok: false, error: toApiError(err, log).toShape() };
      } catch {
        return { ok: false, error: { code: 'internal', message: 'Internal error' } };
      }
    }
  };
}
