/**
 * A1111 "infotext" (the `parameters` PNG chunk): the writer and parser live in
 * `common/infotext.ts`, shared with the renderer's "Copy parameters" so both write the same text;
 * sampler names come from the one scheduler table in `common/schedulers.ts`. Re-exported here for
 * the library's callers (project files, exports, the metadata reader).
 */
export {
  a1111ToRng,
  a1111ToScheduler,
  formatInfotext,
  infotextToParams,
  parseInfotext,
  schedulerToA1111,
  type InfotextParams,
  type ParsedInfotext,
} from '../../common/infotext';
