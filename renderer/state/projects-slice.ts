import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import type { AtelierState, ProjectsSlice } from './types';

export const createProjectsSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], ProjectsSlice> =>
  (set, get) => ({
    projects: [],

    async loadProjects() {
      try {
        set({ projects: await client.listProjects() });
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
      // The reply carries the new lastOpenedAt: take it whole so "Recent" is right before loadProjects returns.
      const opened = { ...project, isCurrent: true };
      set((s) => ({
        projects: s.projects.some((p) => p.id === project.id)
          ? s.projects.map((p) => (p.id === project.id ? opened : { ...p, isCurrent: false }))
          : [...s.projects.map((p) => ({ ...p, isCurrent: false })), opened],
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
