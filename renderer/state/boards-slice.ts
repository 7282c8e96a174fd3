/**
 * Boards (named collections inside a project), tags on images, and exporting a selection. The
 * history filter carries the active board/tag, so the strip and the server query agree.
 */
import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import type { AtelierState, BoardsSlice } from './types';

/** Tags are compared case-insensitively and kept in the spelling first used. */
export function addTag(tags: string[], tag: string): string[] {
  const t = tag.trim();
  if (!t || tags.some((x) => x.toLowerCase() === t.toLowerCase())) return tags;
  return [...tags, t];
}

export const createBoardsSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], BoardsSlice> =>
  (set, get) => {
    const replaceBoard = (b: { id: string; name: string; itemCount: number }) =>
      set((s) => ({ boards: s.boards.map((x) => (x.id === b.id ? b : x)) }));

    return {
      boards: [],
      boardsLoaded: false,

      async loadBoards() {
        try {
          set({ boards: await client.listBoards(), boardsLoaded: true });
        } catch (err) {
          get().reportError('Could not list boards', err);
        }
      },

      async createBoard(name, addIds = []) {
        try {
          let board = await client.createBoard({ name });
          if (addIds.length > 0) board = await client.setBoardMembership({ boardId: board.id, ids: addIds, member: true });
          set((s) => ({ boards: [...s.boards, board] }));
          return board.id;
        } catch (err) {
          get().reportError('Could not create the board', err);
          return null;
        }
      },

      async renameBoard(boardId, name) {
        try {
          replaceBoard(await client.renameBoard({ boardId, name }));
        } catch (err) {
          get().reportError('Could not rename the board', err);
        }
      },

      async deleteBoard(boardId) {
        try {
          await client.deleteBoard({ boardId });
          set((s) => ({ boards: s.boards.filter((b) => b.id !== boardId) }));
          // Deleting a board keeps its images; stop filtering by a board that is gone.
          if (get().historyFilter.boardId === boardId) await get().setHistoryFilter({ ...get().historyFilter, boardId: undefined });
        } catch (err) {
          get().reportError('Could not delete the board', err);
        }
      },

      async setBoardMembership(boardId, ids, member) {
        if (ids.length === 0) return;
        try {
          const board = await client.setBoardMembership({ boardId, ids, member });
          replaceBoard(board);
          if (get().historyFilter.boardId === boardId) await get().loadHistory(true);
          get().pushToast({
            kind: 'info',
            title: member ? 'Added to board' : 'Removed from board',
            message: `${ids.length} image${ids.length === 1 ? '' : 's'} ${member ? 'in' : 'out of'} “${board.name}” (${board.itemCount} in all).`,
          });
        } catch (err) {
          get().reportError('Could not change the board', err);
        }
      },

      async setTags(id, tags) {
        await get().updateGeneration(id, { tags });
        // An image that loses the tag being filtered on leaves the strip.
        const tag = get().historyFilter.tag;
        if (tag && !tags.some((t) => t.toLowerCase() === tag.toLowerCase())) {
          set((s) => ({ historyOrder: s.historyOrder.filter((x) => x !== id) }));
        }
      },

      async exportGenerations(ids, to, format) {
        if (ids.length === 0) return null;
        try {
          const result = await client.exportGenerations({ ids, to, format });
          get().pushToast({ kind: 'info', title: `Exported ${result.count} image${result.count === 1 ? '' : 's'}`, message: result.path });
          return result;
        } catch (err) {
          get().reportError('Export failed', err);
          return null;
        }
      },
    };
  };
