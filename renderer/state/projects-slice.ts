import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import type { AtelierState, ProjectsSlice } from './types';

const RECENT_KEY = 'atelier.recentProjects';
const RECENT_MAX = 8;

/** localStorage when there is one (the browser or Electron renderer); tests run without it. */
function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

function readRecent(): string[] {
  try {
    const v: unknown = JSON.parse(storage()?.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, RECENT_MAX) : [];
  } catch {
    return [];
  }
}

export function pushRecent(recent: string[], id: string): string[] {
  return [id, ...recent.filter((x) => x !== id)].slice(0, RECENT_MAX);
}

export const createProjectsSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], ProjectsSlice> =>
  (set, get) => ({
    projects: [],
    recentProjectIds: readRecent(),

    async loadProjects() {
      try {
        const projects = await client.listProjects();
        const current = projects.find((p) => p.isCurrent);
        // The project open at startup counts as the most recent one.
        set((st) => ({ projects, recentProjectIds: current && st.recentProjectIds[0] !== current.id ? pushRecent(st.recentProjectIds, current.id) : st.recentProjectIds }));
      } catch (err) {
        get().reportError('Could not list projects', err);
      }
    },

    async createProject(name) {
      try {
        const created = await client.createProject({ name });
        const opened = await client.openProject({ projectId: created.id });
        get().onProjectChanged(opened);
      } catch (err) {
        get().reportError('Could not create the project', err);
      }
    },

    async openProject(projectId) {
      try {
        get().onProjectChanged(await client.openProject({ projectId }));
      } catch (err) {
        get().reportError('Could not open the project', err);
      }
    },

    onProjectChanged(project) {
      const recentProjectIds = pushRecent(get().recentProjectIds, project.id);
      try {
        storage()?.setItem(RECENT_KEY, JSON.stringify(recentProjectIds));
      } catch {
        // Storage full or disabled: the list still works for this session.
      }
      set((s) => ({
        recentProjectIds,
        projects: s.projects.some((p) => p.id === project.id)
          ? s.projects.map((p) => ({ ...p, isCurrent: p.id === project.id }))
          : [...s.projects.map((p) => ({ ...p, isCurrent: false })), project],
        records: {},
        historyOrder: [],
        // Boards and tags belong to the old project's library.
        historyFilter: { minRating: s.historyFilter.minRating, flag: s.historyFilter.flag },
        boards: [],
        nextCursor: null,
        selection: [],
        selectionAnchor: null,
        viewingId: null,
        compareMode: false,
        variantGroups: [],
        // The init image is a generation of the old project.
        initImage: null,
        maskEditing: false,
      }));
      void get().loadHistory(true);
      void get().loadBoards();
      void get().loadProjects();
    },
  });
