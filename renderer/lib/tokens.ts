/**
 * Client-side approximation of CLIP token counts: words and punctuation marks, with A1111 weight
 * syntax removed. Good enough to show when a prompt spills into another 75-token chunk; the engine's
 * real tokenizer decides.
 */
export const CHUNK_TOKENS = 75;

export function approximateTokenCount(prompt: string): number {
  const cleaned = prompt
    .replace(/:-?\d+(?:\.\d+)?(?=\s*\))/g, ' ')
    .replace(/[()[\]]/g, ' ')
    .replace(/\bBREAK\b/g, ' ');
  const matches = cleaned.match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu);
  return matches ? matches.length : 0;
}

export interface ChunkInfo {
  tokens: number;
  chunks: number;
  /** Capacity of the chunks in use, e.g. 75, 150. */
  capacity: number;
  /** Tokens in the last (current) chunk. */
  inLastChunk: number;
}

export function chunkInfo(prompt: string): ChunkInfo {
  const tokens = approximateTokenCount(prompt);
  const chunks = Math.max(1, Math.ceil(tokens / CHUNK_TOKENS));
  return { tokens, chunks, capacity: chunks * CHUNK_TOKENS, inLastChunk: tokens - (chunks - 1) * CHUNK_TOKENS };
}

/**
 * Approximate tokens in each 75-token chunk, in order. `BREAK` (A1111) closes the current chunk
 * early and starts a new one, so "a BREAK b" is two chunks of one token each.
 */
export function chunkCounts(prompt: string): number[] {
  const counts: number[] = [];
  for (const segment of prompt.split(/\bBREAK\b/)) {
    let left = approximateTokenCount(segment);
    do {
      counts.push(Math.min(CHUNK_TOKENS, left));
      left -= CHUNK_TOKENS;
    } while (left > 0);
  }
  return counts;
}
