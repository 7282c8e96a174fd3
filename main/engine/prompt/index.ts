/** A1111-compatible prompt syntax: attention weights, prompt editing/alternation, long-prompt chunking and emphasis. */
export { parsePromptAttention } from './attention';
export { getPromptSchedules } from './schedules';
export type { PromptScheduleOptions } from './schedules';
export { PromptSyntaxError } from './pychars';
export {
  PROMPT_BREAK,
  DEFAULT_CHUNK_LENGTH,
  DEFAULT_COMMA_PADDING_BACKTRACK,
  applyEmphasis,
  applyEmphasisNoNorm,
  chunkTokens,
  commaTokenId,
  concatChunkStates,
  emptyChunk,
  encodeWithoutSpecial,
  tokenizeWeightedPrompt,
} from './weighting';
export type {
  ChunkOptions,
  ChunkedPrompt,
  PromptChunk,
  PromptFragment,
  PromptTokenizer,
  WeightedPrompt,
  WeightedPromptOptions,
  WeightedToken,
} from './weighting';
