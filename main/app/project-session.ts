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

export class ProjectSession {
  private readonly registry: ProjectRegistry;
  private library: ProjectLibrary | null = null;
  private currentId: string | null = null;

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
    if (this.currentId && this.currentId !== id) this.registry.closeProject(this.currentId);
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

  toRecord(r: LibraryRecord): GenerationRecord {
    const lib = this.current();
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
    };
  }

  async addGeneration(image: GeneratedImageLike, params: GenerationParamsInput): Promise<GenerationRecord> {
    const record = await this.current().addGeneration({ image, params });
    return this.toRecord(record);
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

  async resolveImageFile(id: string, kind: 'image' | 'thumb'): Promise<string | null> {
    const lib = this.current();
    const r = lib.get(id);
    if (!r) return null;
    // The thumbnail is written just after the row (or rebuilt when missing): wait for it.
    return kind === 'image' ? r.imagePath : lib.thumbnail(id);
  }

  close(): void {
    this.registry.closeAll();
    this.library = null;
  }
}
