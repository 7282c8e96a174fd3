/**
 * Errors as AUTOMATIC1111's API shapes them (modules/api/api.py `handle_exception`):
 * `{error, detail, body, errors}` — `error` the exception's class name, `detail` what went wrong.
 * Validation problems (FastAPI's 422) also list each field in `errors` as `{loc, msg, type}`.
 */
import type { ApiErrorShape } from '../../../common/api/contract';

export interface FieldProblem {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export class A1111Error extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly errorName = 'HTTPException',
    readonly fields: FieldProblem[] = [],
  ) {
    super(detail);
    this.name = 'A1111Error';
  }

  body(): { error: string; detail: string; body: string; errors: string | FieldProblem[] } {
    return { error: this.errorName, detail: this.detail, body: '', errors: this.fields.length ? this.fields : `${this.status}: ${this.detail}` };
  }
}

/** A field that failed validation (HTTP 422, as FastAPI answers a request that does not fit the model). */
export function invalidField(loc: (string | number)[], msg: string, type = 'value_error'): A1111Error {
  return new A1111Error(422, `${loc.join('.')}: ${msg}`, 'RequestValidationError', [{ loc: ['body', ...loc], msg, type }]);
}

/** Our GenerateRequest field → the A1111 field a client sent it as. */
const FIELD_NAMES: Record<string, string> = {
  prompt: 'prompt',
  negativePrompt: 'negative_prompt',
  width: 'width',
  height: 'height',
  steps: 'steps',
  guidanceScale: 'cfg_scale',
  clipSkip: 'override_settings.CLIP_stop_at_last_layers',
  seed: 'seed',
  batchSize: 'batch_size',
  strength: 'denoising_strength',
  maskBlur: 'mask_blur',
  initImage: 'init_images',
  mask: 'mask',
  modelId: 'override_settings.sd_model_checkpoint',
  scheduler: 'sampler_name',
  inpaintOnlyMasked: 'inpaint_full_res_padding',
};

/** An Atelier API error → the A1111 error a client of that API understands. */
export function fromApiError(error: ApiErrorShape): A1111Error {
  const fields = (error.issues ?? []).map((i) => {
    const [head, ...rest] = i.path.split('.');
    const name = [FIELD_NAMES[head] ?? head, ...rest].join('.');
    return { loc: ['body', ...name.split('.')], msg: i.message, type: 'value_error' };
  });
  const message = fields.length ? fields.map((f) => `${f.loc.slice(1).join('.')}: ${f.msg}`).join('; ') : error.message;
  switch (error.code) {
    case 'invalid_request':
      return new A1111Error(422, message, 'RequestValidationError', fields);
    case 'not_found':
      return new A1111Error(404, message);
    case 'busy':
      return new A1111Error(503, message);
    case 'cancelled':
      return new A1111Error(500, message, 'InterruptedError');
    case 'model_error':
      return new A1111Error(500, message, 'RuntimeError');
    default:
      return new A1111Error(500, message, 'RuntimeError');
  }
}
