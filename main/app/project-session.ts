/**
 * The currently open project, seen through the API: maps library records to the contract's
 * GenerationRecord (image URLs by id, never paths) and API queries to library queries.
 */
import { AtelierApiError, type BoardSummary, type GenerationRecord, type HistoryPage, type Lineage, type ProjectSummary } from '../../common/api/contract';
import type { HistoryQuery, schemas } from '../../common/api';
import type { z } from 'zod';
import { ProjectRegistry, type ProjectLibrary } from '../library';
import type { GenerationParamsInput, GenerationRecord as LibraryRecord, RegisteredProject } from '../library';

type UpdateRequest = z.output<typeof schemas.UpdateGenerationRequest>;

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
    this.registry = new ProjectRegistry(userDataDir);
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
    const library = this.current();
    const { id, name } = this.currentProject();
    const entry = this.held.get(id) ?? { library, count: 0 };
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
      guidanceScale: r.cfg,
      clipSkip: r.clipSkip,
      scheduler: r.scheduler,
      modelId: r.modelId,
      modelFamily: r.modelFamily,
      provider: r.provider,
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

  queryHistory(q: HistoryQuery): HistoryPage {
    const lib = this.current();
    const base = {
      limit: q.limit,
      cursor: q.cursor ?? null,
      minRating: q.minRating,
      flag: q.flag,
      tag: q.tag,
      boardId: q.boardId,
      modelId: q.model,
      scheduler: q.scheduler,
      trashed: q.trashed ?? false,
    };
    let items: LibraryRecord[];
    let nextCursor: string | null = null;
    if (q.parentId) items = lib.childrenOf(q.parentId);
    else if (q.seed !== undefined) items = lib.history({ ...base, limit: 1000 }).items.filter((r) => r.seed === q.seed);
    else {
      const page = q.search?.trim() ? lib.search(q.search, base) : lib.history(base);
      items = page.items;
      nextCursor = page.nextCursor;
    }
    return { items: items.map((r) => this.toRecord(r)), nextCursor };
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
