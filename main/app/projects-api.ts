/** The project slice of the API: projects, history, organisation (ratings, tags, boards), trash, import/export. */
import type { AtelierApi, ProjectSummary } from '../../common/api/contract';
import { readImageMetadataWithCredentials } from '../library';
import type { EventBus } from './event-bus';
import { ExportDownloads } from './export-downloads';
import type { ProjectSession } from './project-session';
import { readStoredControlImage } from './stored-control-image';
import { LEGACY_GUIDANCE_KEY } from '../../common/params/generation';

export type ProjectsApi = Pick<
  AtelierApi,
  | 'listProjects'
  | 'createProject'
  | 'openProject'
  | 'renameProject'
  | 'deleteProject'
  | 'archiveProject'
  | 'moveGenerations'
  | 'queryHistory'
  | 'getGeneration'
  | 'updateGeneration'
  | 'deleteGeneration'
  | 'trashGenerations'
  | 'setTags'
  | 'restoreGeneration'
  | 'emptyTrash'
  | 'getLineage'
  | 'listBoards'
  | 'createBoard'
  | 'renameBoard'
  | 'deleteBoard'
  | 'setBoardMembership'
  | 'exportGenerations'
  | 'prepareExportDownload'
  | 'importImages'
  | 'readImageMetadata'
  | 'verifyImage'
  | 'getProjectCredentials'
  | 'setProjectCredentials'
  | 'getReceipt'
  | 'getControlImage'
>;

export interface ProjectsApiOptions {
  /** Where server-mode export zips wait for their download (created here when absent). */
  exports?: ExportDownloads;
  /** Prefix of URLs handed to clients ('/' in server mode), as for images. */
  urlBase?: string;
}

export function createProjectsApi(projects: ProjectSession, bus: EventBus, opts: ProjectsApiOptions = {}): ProjectsApi {
  return {
    ...projectMethods(projects, bus),
    ...historyMethods(projects),
    ...boardMethods(projects),
    ...fileMethods(projects, opts),
  } satisfies ProjectsApi;
}

type Methods<K extends keyof ProjectsApi> = Pick<ProjectsApi, K>;

/** Projects themselves: list, create, open, rename, delete, archive, move images between them. */
function projectMethods(projects: ProjectSession, bus: EventBus): Methods<'listProjects' | 'createProject' | 'openProject' | 'renameProject' | 'deleteProject' | 'archiveProject' | 'moveGenerations'> {
  return {
    async listProjects() {
      return projects.list();
    },
    async createProject(req) {
      const p = await projects.create(req.name);
      bus.emit({ type: 'project:changed', project: p });
      return p;
    },
    async openProject(req) {
      const p = await projects.open(req.projectId);
      bus.emit({ type: 'project:changed', project: p });
      return p;
    },
    async renameProject(req): Promise<ProjectSummary> {
      return projects.rename(req.projectId, req.name);
    },
    async deleteProject(req) {
      const r = await projects.deleteProject(req.projectId);
      if (r.switched) bus.emit({ type: 'project:changed', project: r.current });
      return { deleted: r.deleted, current: r.current };
    },
    async archiveProject(req) {
      return projects.archive(req.projectId, req.archived);
    },
    async moveGenerations(req) {
      return projects.moveTo(req.ids, req.projectId);
    },
  };
}

/** The open project's images: history, one image, edits, trash, tags, lineage. */
function historyMethods(projects: ProjectSession): Methods<'queryHistory' | 'getGeneration' | 'updateGeneration' | 'deleteGeneration' | 'trashGenerations' | 'setTags' | 'restoreGeneration' | 'emptyTrash' | 'getLineage'> {
  return {
    async queryHistory(req) {
      return projects.queryHistory(req);
    },
    async getGeneration(req) {
      return projects.getGeneration(req.id);
    },
    async updateGeneration(req) {
      return projects.updateGeneration(req);
    },
    async deleteGeneration(req) {
      return { deleted: projects.trash(req.id) };
    },
    async trashGenerations(req) {
      return { trashed: projects.trashMany(req.ids) };
    },
    async setTags(req) {
      return { records: projects.setTags(req.ids, req.add ?? [], req.remove ?? []) };
    },
    async restoreGeneration(req) {
      return projects.restore(req.id);
    },
    async emptyTrash() {
      return projects.current().emptyTrash();
    },
    async getLineage(req) {
      return projects.lineage(req.id);
    },
  };
}

function boardMethods(projects: ProjectSession): Methods<'listBoards' | 'createBoard' | 'renameBoard' | 'deleteBoard' | 'setBoardMembership'> {
  return {
    async listBoards() {
      return projects.boards();
    },
    async createBoard(req) {
      const b = projects.current().createBoard(req.name);
      return { id: b.id, name: b.name, itemCount: b.itemCount };
    },
    async renameBoard(req) {
      projects.board(req.boardId);
      projects.current().renameBoard(req.boardId, req.name);
      return projects.board(req.boardId);
    },
    async deleteBoard(req) {
      projects.board(req.boardId);
      projects.current().deleteBoard(req.boardId);
      return { deleted: true };
    },
    async setBoardMembership(req) {
      projects.board(req.boardId);
      for (const id of req.ids) projects.getGeneration(id); // unknown ids → not_found before any change
      if (req.member) projects.current().addToBoard(req.boardId, req.ids);
      else projects.current().removeFromBoard(req.boardId, req.ids);
      return projects.board(req.boardId);
    },
  };
}

/** Files in and out (export, import, metadata of a dropped file, kept control images) and content credentials. */
function fileMethods(projects: ProjectSession, opts: ProjectsApiOptions): Methods<'exportGenerations' | 'prepareExportDownload' | 'importImages' | 'readImageMetadata' | 'verifyImage' | 'getProjectCredentials' | 'setProjectCredentials' | 'getReceipt' | 'getControlImage'> {
  const exportDownloads = opts.exports ?? new ExportDownloads();
  const urlBase = opts.urlBase ?? '/';
  return {
    async exportGenerations(req) {
      const r = await projects.current().exportGenerations({ ids: req.ids, boardId: req.boardId, to: req.to, format: req.format, quality: req.quality });
      return { path: r.path, count: r.count };
    },
    async prepareExportDownload(req) {
      const r = await exportDownloads.prepare(projects.current(), { ids: req.ids, boardId: req.boardId, format: req.format, quality: req.quality });
      return { url: `${urlBase}export/${r.token}`, fileName: r.fileName, count: r.count, bytes: r.bytes };
    },
    async importImages(req) {
      return projects.importImages(req.paths);
    },
    async readImageMetadata(req) {
      const buf = Buffer.from(req.base64, 'base64');
      // Parameters and content credentials in one read; "signed here" is recognised by the open project's signer.
      const meta = await readImageMetadataWithCredentials(buf, { verify: (bytes) => projects.current().verifyCredentials(bytes) });
      const g = (meta.generation ?? {}) as Record<string, unknown>;
      const params: Record<string, string | number> = {};
      for (const [k, v] of Object.entries(g)) {
        if ((typeof v === 'string' || typeof v === 'number') && k !== 'prompt' && k !== 'negativePrompt') params[k] = v;
      }
      // Clients written against earlier versions read the guidance scale as `cfg` (its name before the one schema).
      if (typeof g.guidanceScale === 'number') params[LEGACY_GUIDANCE_KEY] = g.guidanceScale;
      return {
        source: meta.source,
        ...(typeof g.prompt === 'string' ? { prompt: g.prompt } : {}),
        ...(typeof g.negativePrompt === 'string' ? { negativePrompt: g.negativePrompt } : {}),
        params,
        warnings: meta.warnings,
        c2pa: meta.c2pa,
      };
    },
    async verifyImage(req) {
      return projects.verify(req);
    },
    async getProjectCredentials() {
      return { disclosure: projects.credentialsDisclosure() };
    },
    async setProjectCredentials(req) {
      return { disclosure: projects.setCredentialsDisclosure(req.disclosure) };
    },
    async getReceipt(req) {
      return projects.receipt(req.id);
    },
    async getControlImage(req) {
      return readStoredControlImage(projects.current().dir, req.ref);
    },
  };
}
