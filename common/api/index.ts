export * from './contract';
export * as schemas from './schemas';
export type { GenerateParams, GenerateRequest, HistoryQuery, Settings } from './schemas';
