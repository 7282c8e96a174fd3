/**
 * The largest A1111 "Clip skip" a model folder can run, without loading it: the same rule as the
 * engine's text-encoders.ts, read from the names of the text encoders' `hidden_states.N` graph
 * outputs. Lets the studio refuse (and say why) a clip skip the model would fail on, e.g. one
 * imported from an A1111 PNG, instead of letting the next Generate fail.
 *
 *   single encoder (SD 1.x/2.x): no hidden states → 1; N states → up to N (hidden_states[-k])
 *   SDXL (two encoders, penultimate by default): min(N1, N2) − 1
 *
 * The output names are plain strings in the ONNX protobuf. Graph outputs are serialised after the
 * initializers (GraphProto field 12 > 5), so for graphs with inline weights the head and tail are
 * read, never the whole multi-hundred-MB file.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileKeyedCache } from './file-keyed-cache';

const MAX_CLIP_SKIP = 12;
const WHOLE_FILE_LIMIT = 64 * 1024 * 1024;
const EDGE_BYTES = 8 * 1024 * 1024;

function readEdges(file: string): Buffer {
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    if (size <= WHOLE_FILE_LIMIT) {
      const all = Buffer.alloc(size);
      readSync(fd, all, 0, size, 0);
      return all;
    }
    const head = Buffer.alloc(EDGE_BYTES);
    const tail = Buffer.alloc(EDGE_BYTES);
    readSync(fd, head, 0, EDGE_BYTES, 0);
    readSync(fd, tail, 0, EDGE_BYTES, size - EDGE_BYTES);
    return Buffer.concat([head, tail]);
  } finally {
    closeSync(fd);
  }
}

/** Contiguous `hidden_states.0..N-1` names in an ONNX graph (what the engine accepts). */
export function countHiddenStates(file: string): number {
  const text = readEdges(file).toString('latin1');
  const seen = new Set<number>();
  for (const m of text.matchAll(/hidden_states\.(\d{1,3})/g)) seen.add(Number(m[1]));
  let n = 0;
  while (seen.has(n)) n++;
  return n;
}

/** Largest clip skip the folder's text encoder(s) can run (1 = none beyond the default); undefined when unreadable. */
export function clipSkipLimit(folder: string): number | undefined {
  try {
    const te = join(folder, 'text_encoder', 'model.onnx');
    if (!existsSync(te)) return undefined;
    const n1 = countHiddenStates(te);
    const te2 = join(folder, 'text_encoder_2', 'model.onnx');
    if (existsSync(te2)) return Math.max(1, Math.min(MAX_CLIP_SKIP, Math.min(n1, countHiddenStates(te2)) - 1));
    return n1 === 0 ? 1 : Math.min(MAX_CLIP_SKIP, n1);
  } catch {
    return undefined;
  }
}

const cache = new FileKeyedCache<number | undefined>();

/** clipSkipLimit, cached per state of the folder's text encoder(s) (listModels runs often). */
export function cachedClipSkipLimit(folder: string): number | undefined {
  return cache.get([join(folder, 'text_encoder', 'model.onnx'), join(folder, 'text_encoder_2', 'model.onnx')], () => clipSkipLimit(folder));
}
