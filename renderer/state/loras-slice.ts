/** Installed LoRAs for the left panel's picker: listed on demand (listLoras reads a folder). */
import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import { describeError } from '../lib/errors';
import type { AtelierState, LorasSlice } from './types';

export const createLorasSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], LorasSlice> =>
  (set) => ({
    loras: null,
    lorasError: null,
    async refreshLoras() {
      try {
        set({ loras: await client.listLoras(), lorasError: null });
      } catch (err) {
        set({ lorasError: describeError(err) });
      }
    },
  });
