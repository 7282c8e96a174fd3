/**
 * The currently open project, seen through the API: maps library records to the contract's
 * GenerationRecord (image URLs by id, never paths) and API queries to library queries.
 */
import { readFile } from 'node:fs/promises';
import { AtelierApiError, type BoardSummary, type GenerationRecord, type HistoryPage, type Lineage, type ProjectSummary } from '../../common/api/contract';
import type { HistoryQuery, schemas } from '../../common/api';
import type { z } from 'zod';
import { DEFAULT_PROJECT_NAME, ProjectRegistry, moveGenerations, projectModelIds, type ProjectLibrary } from '../library';
import { parseHistorySearch } from '../../common/history-search';
import { resolveScheduler } from '../../common/schedulers';
import { Provenance, type Credentials, type Disclosure, type Receipt } from '../provenance';
import { APP_VERSION } from './runtime';
import type { GenerationParamsInput, GenerationRecord as LibraryRecord, RegisteredProject } from '../library';

type UpdateRequest = z.output<typeof schemas.UpdateGenerationRequest>;

/** What the library's keyset cursors look like (main/library/queries.ts encodeCursor): `t.<ms>.<id>` or `s.<seq>`. */
const HISTORY_CURSOR = /^(?:t\.\d{1,16}\.[0-9A-Za-z]{1,64}|s\.\d{1,16})$/;

export interface GeneratedImageLike {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/**
 * A job's claim on the project it was submitted from: the library stays open for the job's save even
 * when the user switches to another project meanwhile, and is closed once the last claim is released.
 */
export interface ProjectHold {
  id: string;
  name: string;
  library: ProjectLibrary;
  release(): void;
}

export class ProjectSession {
  private readonly registry: ProjectRegistry;
  private library: ProjectLibrary | null = null;
  private currentId: string | null = null;
  /** Open libraries that queued or running jobs will save into, with how many jobs hold each. */
  private readonly held = new Map<string, { library: ProjectLibrary; count: number }>();

  private constructor(
    userDataDir: string,
    private readonly imageUrlBase: string,
  ) {
    this.registry = new ProjectRegistry(userDataDir, { provenance: new Provenance(userDataDir, { appVersion: APP_VERSION }) });
  }

  /** Opens the registry and the default project (created on first run). */
  static async open(userDataDir: string, imageUrlBase: string): Promise<ProjectSession> {
    const session = new ProjectSession(userDataDir, imageUrlBase);
    const project = await session.registry.ensureDefaultProject();
    await session.switchTo(project.id);
    return session;
  }

  current(): ProjectLibrary {
    if (!this.library) throw new AtelierApiError('not_found', 'No project is open');
    return this.library;
  }

  /** The open project's id and name. */
  currentProject(): { id: string; name: string } {
    const lib = this.current();
    return { id: this.currentId!, name: lib.info().name };
  }

  /** The library a job saves into: its held project, else the open one. */
  libraryFor(projectId: string | undefined): ProjectLibrary {
    if (projectId === undefined || projectId === this.currentId) return this.current();
    const held = this.held.get(projectId);
    if (!held) throw new AtelierApiError('not_found', `The project ${projectId} is no longer open`);
    return held.library;
  }

  /** Claims the current project for a job: its library stays open until release(), whatever is opened later. */
  hold(): ProjectHold {
    const { id, name } = this.currentProject();
    return this.claim(id, name, this.held.get(id) ?? { library: this.current(), count: 0 });
  }

  /** Claims a listed project for a job (a retried job goes back to its own project), opening its library if needed. */
  async holdProject(id: string): Promise<ProjectHold> {
    if (id === this.currentId) return this.hold();
    const registered = this.registry.get(id);
    if (!registered) throw new AtelierApiError('not_found', `No project with id ${id}`);
    const entry = this.held.get(id) ?? { library: await this.registry.openProject(id), count: 0 };
    return this.claim(id, entry.library.info().name, entry);
  }

  private claim(id: string, name: string, entry: { library: ProjectLibrary; count: number }): ProjectHold {
    const library = entry.library;
    entry.count++;
    this.held.set(id, entry);
    let released = false;
    return {
      id,
      name,
      library,
      release: () => {
        if (released) return;
        released = true;
        entry.count--;
        if (entry.count > 0) return;
        this.held.delete(id);
        if (id !== this.currentId) this.registry.closeProject(id);
      },
    };
  }

  private summary(p: RegisteredProject): ProjectSummary {
    return {
      id: p.id,
      name: p.name,
      path: p.path,
      isCurrent: p.id === this.currentId,
      lastOpenedAt: p.lastOpenedAt == null ? null : new Date(p.lastOpenedAt).toISOString(),
      archivedAt: p.archivedAt == null ? null : new Date(p.archivedAt).toISOString(),
    };
  }

  list(): ProjectSummary[] {
    return this.registry.list().map((p) => this.summary(p));
  }

  private async switchTo(id: string): Promise<ProjectSummary> {
    if (!this.registry.get(id)) throw new AtelierApiError('not_found', `No project with id ${id}`);
    const lib = await this.registry.openProject(id);
    // A project that jobs still save into stays open; the last job's release closes it.
    if (this.currentId && this.currentId !== id && !this.held.has(this.currentId)) this.registry.closeProject(this.currentId);
    this.library = lib;
    this.currentId = id;
    return this.summary(this.registry.get(id)!);
  }

  async create(name: string): Promise<ProjectSummary> {
    const p = await this.registry.create(name);
    return this.switchTo(p.id);
  }

  open(id: string): Promise<ProjectSummary> {
    return this.switchTo(id);
  }

  async rename(id: string, name: string): Promise<ProjectSummary> {
    if (!this.registry.get(id)) throw new AtelierApiError('not_found', `No project with id ${id}`);
    await this.registry.rename(id, name);
    return this.summary(this.registry.get(id)!);
  }

  /** Archives or unarchives a project; the open one cannot be archived (switch away first). */
  archive(id: string, archived: boolean): ProjectSummary {
    if (!this.registry.get(id)) throw new AtelierApiError('not_found', `No project with id ${id}`);
    if (archived && id === this.currentId) throw new AtelierApiError('invalid_request', 'This project is open: switch to another project before archiving it.');
    this.registry.setArchived(id, archived);
    return this.summary(this.registry.get(id)!);
  }

  /**
   * Deletes a project and its folder. Refused while queued or running jobs save into it. Deleting the
   * open project first opens the most recently used other one (a new default project if none is left).
   */
  async deleteProject(id: string): Promise<{ deleted: boolean; current: ProjectSummary; switched: boolean }> {
    const entry = this.registry.get(id);
    if (!entry) throw new AtelierApiError('not_found', `No project with id ${id}`);
    if (this.held.has(id)) throw new AtelierApiError('busy', `Jobs are still saving into “${entry.name}”: wait for them to finish (or cancel them), then delete it.`);
    let switched = false;
    if (id === this.currentId) {
      const others = this.registry
        .list()
        .filter((p) => p.id !== id)
        .sort((a, b) => Number(Boolean(a.archivedAt)) - Number(Boolean(b.archivedAt)) || (b.lastOpenedAt ?? 0) - (a.lastOpenedAt ?? 0));
      const next = others[0] ?? (await this.registry.create(DEFAULT_PROJECT_NAME));
      await this.switchTo(next.id);
      switched = true;
    }
    await this.registry.deleteProject(id);
    return { deleted: true, current: this.summary(this.registry.get(this.currentId!)!), switched };
  }

  /** Moves images of the open project into another listed project (files, rows, tags, lineage among them). */
  async moveTo(ids: string[], projectId: string): Promise<{ moved: number; projectId: string; projectName: string; cutLinks: number }> {
    const entry = this.registry.get(projectId);
    if (!entry) throw new AtelierApiError('not_found', `No project with id ${projectId}`);
    if (projectId === this.currentId) throw new AtelierApiError('invalid_request', 'These images are already in this project.');
    const source = this.current();
    for (const id of ids) this.require(id); // unknown ids → not_found before anything moves
    const held = this.held.get(projectId);
    const target = held?.library ?? (await this.registry.openProject(projectId));
    try {
      const result = await moveGenerations(source, target, ids);
      return { moved: result.moved.length, projectId, projectName: target.info().name, cutLinks: result.cutLinks };
    } finally {
      if (!held && projectId !== this.currentId) this.registry.closeProject(projectId);
    }
  }

  toRecord(r: LibraryRecord, lib: ProjectLibrary = this.current()): GenerationRecord {
    return {
      id: r.id,
      imageUrl: `${this.imageUrlBase}image/${r.id}`,
      thumbUrl: `${this.imageUrlBase}thumb/${r.id}`,
      width: r.width,
      height: r.height,
      prompt: r.prompt,
      negativePrompt: r.negativePrompt,
      seed: r.seed,
      rng: r.rng,
      steps: r.steps,
      guidanceScale: r.guidanceScale,
      clipSkip: r.clipSkip,
      scheduler: r.scheduler,
      modelId: r.modelId,
      modelFamily: r.modelFamily,
      provider: r.provider,
      ...(r.deviceId !== undefined ? { deviceId: r.deviceId } : {}),
      ...(r.controlNets && r.controlNets.length > 0 ? { controlNets: r.controlNets } : {}),
      parentId: r.parentId,
      rating: r.rating,
      flag: r.flag,
      tags: lib.tagsOf(r.id),
      notes: r.notes,
      createdAt: new Date(r.createdAt).toISOString(),
      timings: r.timings ?? {},
      modelHash: r.modelHash,
      strength: r.strength,
      initImageRef: r.initImageRef,
      maskRef: r.maskRef,
      batchIndex: r.batchIndex,
      ...(r.batchSize !== undefined ? { batchSize: r.batchSize } : {}),
      appVersion: r.appVersion,
    };
  }

  /** Saves into `library` (a job's held project) or the open project. */
  async addGeneration(image: GeneratedImageLike, params: GenerationParamsInput, library: ProjectLibrary = this.current()): Promise<GenerationRecord> {
    const record = await library.addGeneration({ image, params });
    return this.toRecord(record, library);
  }

  private require(id: string): LibraryRecord {
    const r = this.current().get(id);
    if (!r) throw new AtelierApiError('not_found', `No generation with id ${id} in this project`);
    return r;
  }

  getGeneration(id: string): GenerationRecord {
    return this.toRecord(this.require(id));
  }

  /** A `model:` search term → the project's model id it names: exact (any case), else the shortest id containing it. */
  private resolveModelTerm(lib: ProjectLibrary, term: string): string {
    const want = term.toLowerCase();
    const ids = projectModelIds(lib);
    return ids.find((m) => m.toLowerCase() === want) ?? ids.filter((m) => m.toLowerCase().includes(want)).sort((a, b) => a.length - b.length)[0] ?? term;
  }

  queryHistory(q: HistoryQuery): HistoryPage {
    const lib = this.current();
    // A cursor is opaque: only what a previous page handed out is accepted (checked here, before any query).
    if (q.cursor !== undefined && !HISTORY_CURSOR.test(q.cursor)) {
      throw new AtelierApiError('invalid_request', `Invalid history cursor ${JSON.stringify(q.cursor.slice(0, 60))}: pass back the nextCursor of the previous page unchanged`, [{ path: 'cursor', message: 'not a cursor this server handed out' }]);
    }
    // The search box also takes tag:, seed:, model: and scheduler: terms (common/history-search.ts).
    const s = parseHistorySearch(q.search ?? '');
    let tag = q.tag;
    let alsoTag: string | undefined;
    if (s.tag !== undefined) {
      if (tag === undefined || tag.toLowerCase() === s.tag.toLowerCase()) tag = s.tag;
      else alsoTag = s.tag;
    }
    const base = {
      limit: q.limit,
      cursor: q.cursor ?? null,
      minRating: q.minRating,
      flag: q.flag,
      tag,
      boardId: q.boardId,
      modelId: q.model ?? (s.model !== undefined ? this.resolveModelTerm(lib, s.model) : undefined),
      scheduler: q.scheduler ?? (s.scheduler !== undefined ? resolveScheduler(s.scheduler).name : undefined),
      seed: q.seed ?? s.seed,
      trashed: q.trashed ?? false,
    };
    let items: LibraryRecord[];
    let nextCursor: string | null = null;
    const page = (): { items: LibraryRecord[]; nextCursor: string | null } => {
      // One bare number: that seed first; prompt text only when no image has it (a text page's cursor says which).
      if (s.bareNumber !== undefined && base.seed === undefined && !q.cursor?.startsWith('s.')) {
        const bySeed = lib.history({ ...base, seed: s.bareNumber });
        if (bySeed.items.length > 0 || q.cursor) return bySeed;
      }
      return s.text ? lib.search(s.text, base) : lib.history(base);
    };
    if (q.parentId) items = lib.childrenOf(q.parentId);
    else {
      try {
        ({ items, nextCursor } = page());
      } catch (err) {
        // A well-formed cursor from the other kind of page (history ↔ search): the client's mistake.
        if (q.cursor && err instanceof Error && /cursor/.test(err.message)) throw new AtelierApiError('invalid_request', err.message, [{ path: 'cursor', message: 'belongs to another kind of page' }]);
        throw err;
      }
    }
    if (alsoTag !== undefined) items = items.filter((r) => lib.tagsOf(r.id).some((t) => t.toLowerCase() === alsoTag!.toLowerCase()));
    return { items: items.map((r) => this.toRecord(r)), nextCursor };
  }

  /** Adds and removes tags on many images in two transactions; unknown ids → not_found before any change. */
  setTags(ids: string[], add: string[], remove: string[]): GenerationRecord[] {
    const lib = this.current();
    for (const id of ids) this.require(id);
    if (add.length) lib.addTags(ids, add);
    const removing = remove.filter((t) => !add.some((a) => a.toLowerCase() === t.toLowerCase()));
    if (removing.length) lib.removeTags(ids, removing);
    return ids.map((id) => this.getGeneration(id));
  }

  trashMany(ids: string[]): number {
    for (const id of ids) this.require(id);
    this.current().trash(ids);
    return ids.length;
  }

  updateGeneration(req: UpdateRequest): GenerationRecord {
    const lib = this.current();
    this.require(req.id);
    if (req.rating !== undefined) lib.setRating(req.id, req.rating);
    if (req.flag !== undefined) lib.setFlag(req.id, req.flag);
    if (req.notes !== undefined) lib.setNotes(req.id, req.notes);
    if (req.tags !== undefined) {
      const current = lib.tagsOf(req.id);
      const removed = current.filter((t) => !req.tags!.includes(t));
      const added = req.tags.filter((t) => !current.includes(t));
      if (removed.length) lib.removeTags(req.id, removed);
      if (added.length) lib.addTags(req.id, added);
    }
    return this.getGeneration(req.id);
  }

  trash(id: string): boolean {
    this.require(id);
    this.current().trash(id);
    return true;
  }

  restore(id: string): GenerationRecord {
    this.current().restore(id);
    return this.getGeneration(id);
  }

  lineage(id: string): Lineage {
    const lib = this.current();
    this.require(id);
    const map = (rs: LibraryRecord[]) => rs.map((r) => this.toRecord(r));
    return { ancestors: map(lib.ancestorsOf(id)), children: map(lib.childrenOf(id)), sameSeed: map(lib.sameSeed(id).filter((r) => r.id !== id)) };
  }

  boards(): BoardSummary[] {
    return this.current().listBoards().map(({ id, name, itemCount }) => ({ id, name, itemCount }));
  }

  board(boardId: string): BoardSummary {
    const b = this.boards().find((x) => x.id === boardId);
    if (!b) throw new AtelierApiError('not_found', `No board with id ${boardId} in this project`);
    return b;
  }

  async importImages(paths: string[]): Promise<{ imported: GenerationRecord[]; skipped: { path: string; reason: string }[] }> {
    const report = await this.current().importFiles(paths);
    return { imported: report.imported.map((i) => this.toRecord(i.record)), skipped: report.skipped };
  }

  /** Content credentials of a stored generation (read from its file) or of a file's bytes. */
  async verify(req: { id: string } | { base64: string }): Promise<Credentials> {
    const lib = this.current();
    if ('id' in req) {
      const r = this.require(req.id);
      let bytes: Buffer;
      try {
        bytes = await readFile(r.imagePath);
      } catch {
        throw new AtelierApiError('not_found', `The image file of generation ${req.id} is missing`);
      }
      return lib.verifyCredentials(bytes);
    }
    return lib.verifyCredentials(Buffer.from(req.base64, 'base64'));
  }

  credentialsDisclosure(): Disclosure {
    return this.current().credentialsDisclosure();
  }

  setCredentialsDisclosure(disclosure: Disclosure): Disclosure {
    this.current().setCredentialsDisclosure(disclosure);
    return this.current().credentialsDisclosure();
  }

  receipt(id: string): Receipt | null {
    this.require(id);
    return this.current().receipt(id);
  }

  async resolveImageFile(id: string, kind: 'image' | 'thumb', lib: ProjectLibrary = this.current()): Promise<string | null> {
    const r = lib.get(id);
    if (!r) return null;
    // The thumbnail is written just after the row (or rebuilt when missing): wait for it.
    return kind === 'image' ? r.imagePath : lib.thumbnail(id);
  }

  close(): void {
    this.held.clear();
    this.registry.closeAll();
    this.library = null;
  }
}
