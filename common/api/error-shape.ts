/** The error every API method may answer with, as it travels (AtelierApiError in contract.ts is its class). */

export type ApiErrorCode =
  | 'invalid_request'
  | 'unknown_method'
  | 'not_found'
  | 'model_error'
  | 'cancelled'
  | 'busy'
  | 'unauthorized'
  | 'internal';

export interface ApiErrorShape {
  code: ApiErrorCode;
  message: string;
  /** Field-level problems for invalid_request. */
  issues?: { path: string; message: string }[];
}
