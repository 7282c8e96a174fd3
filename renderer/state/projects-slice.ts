import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import type { AtelierState, ProjectsSlice } from './types';

/** Jobs keep saving into the project they came from: say so on a switch, so nobody looks for them here. */
function warnAboutPendingJobs(s: AtelierState, openedId: string): void {
  const pending = Object.values(s.jobs).filter((j) => (j.state === 'queued' || j.state === 'running') && j.projectId && j.projectId !== openedId);
  if (pending.length === 0) return;
  const names = [...new Set(pending.map((j) => `“${j.projectName ?? 'another project'}”`))].join(', ');
  const count = pending.length === 1 ? '1 job is' : `${pending.length} jobs are`;
  s.pushToast({ kind: 'info', title: 'Jobs still running', message: `${count} still running or queued; ${pending.length === 1 ? 'its images' : 'their images'} will be saved into ${names}.` });
}

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
        warnAboutPendingJobs(get(), opened.id);
      } catch (err) {
        get().reportError('Could not create the project', err);
      }
    },

    async openProject(projectId) {
      try {
        get().onProjectChanged(await client.openProject({ projectId }));
        warnAboutPendingJobs(get(), projectId);
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
