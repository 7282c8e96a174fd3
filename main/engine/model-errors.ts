/**
 * Every defect in a model folder surfaces as one ModelLoadError that names the
 * file and says what was expected there, so the user can fix or re-download
 * exactly that piece.
 */

export type ModelLoadErrorCode =
  | 'missing-file'
  | 'bad-json'
  | 'bad-config'
  | 'corrupt-onnx'
  | 'missing-external-data'
  | 'wrong-io-names'
  | 'wrong-rank'
  | 'wrong-dtype'
  | 'mismatch'
  | 'unknown-scheduler'
  | 'tokenizer'
  | 'provider'
  | 'unsupported'
  /** The graph loads but a test run at a tiny size fails or yields NaN/inf (import validation). */
  | 'test-run';

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
  /** Path of the offending file (or folder). */
  readonly file: string;
  /** What the loader expected to find there. */
  readonly expected: string;
  readonly code: ModelLoadErrorCode;

  constructor(opts: { file: string; expected: string; problem: string; code: ModelLoadErrorCode; hint?: string; cause?: unknown }) {
    super(`${opts.file}: ${opts.problem}. Expected ${opts.expected}.${opts.hint ? ` ${opts.hint}` : ''}`, {
      cause: opts.cause,
    });
    this.file = opts.file;
    this.expected = opts.expected;
    this.code = opts.code;
  }
}

export function isModelLoadError(e: unknown): e is ModelLoadError {
  return e instanceof ModelLoadError;
}
