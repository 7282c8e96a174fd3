/**
 * App-level list of known projects, kept in `<userDataDir>/projects.json` (written
 * atomically). The registry only remembers where projects are; each project folder stays
 * self-contained, so removing one from the list never touches its files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LibraryError, LibraryNotFoundError } from './errors';
import { PROJECT_EXTENSION, ProjectLibrary, projectFolderName, type OpenOptions } from './project-library';
import { Provenance } from '../provenance';

export interface RegisteredProject {
  /** The project's own id (project_meta.project_id), stable across moves. */
  id: string;
  name: string;
  /** Absolute path of the `.atelier` folder. */
  path: string;
  createdAt: number;
  lastOpenedAt: number | null;
  /** Set while the project is archived (kept on disk and in the list, out of the switcher's way). */
  archivedAt?: number | null;
}

interface RegistryFile {
  version: 1;
  defaultProjectId: string | null;
  projects: RegisteredProject[];
}

export const REGISTRY_FILE = 'projects.json';

export const DEFAULT_PROJECT_NAME = 'My Project';

/** projectFolderName keeps at most this many UTF-16 units of a name (before the extension). */
const FOLDER_BASE_MAX = 80;
/** Suffixes tried before giving up; far more same-named projects than anyone keeps in one folder. */
const MAX_SAME_NAME = 10_000;

/** The longest prefix of `text` within `room` UTF-16 units that never splits a surrogate pair, without a trailing space or dot. */
function fitUnits(text: string, room: number): string {
  let out = '';
  for (const ch of text) {
    if (out.length + ch.length > room) break;
    out += ch;
  }
  return out.replace(/[ .]+$/, '');
}

/**
 * A folder name (passed to ProjectLibrary.create as the project's name) whose folder does not
 * exist yet in parentDir. Two projects may share a display name; their folders get " (2)",
 * " (3)" … suffixes. The cleaned name is cut to leave room for the suffix first, so a long name's
 * suffix is never cut off again (which made the old loop spin forever), and the cut falls between
 * whole characters. Bounded: after MAX_SAME_NAME taken names it throws.
 */
function freeFolderName(parentDir: string, name: string): string {
  const base = projectFolderName(name).slice(0, -PROJECT_EXTENSION.length);
  for (let n = 1; n <= MAX_SAME_NAME; n++) {
    const suffix = n === 1 ? '' : ` (${n})`;
    const candidate = `${fitUnits(base, FOLDER_BASE_MAX - suffix.length) || 'project'}${suffix}`;
    const folder = projectFolderName(candidate);
    if (!fs.existsSync(path.join(parentDir, folder))) return candidate;
  }
  throw new LibraryError(`cannot create project "${name}": ${MAX_SAME_NAME} folders with that name already exist in ${parentDir}`);
}

export class ProjectRegistry {
  private data: RegistryFile;
  private readonly open = new Map<string, ProjectLibrary>();
  readonly file: string;
  /** Where new projects go unless create() is given a folder. */
  readonly projectsDir: string;

  /** Signs what the projects opened here store and export (content credentials); null: unsigned. */
  readonly provenance: Provenance | null;

  constructor(readonly userDataDir: string, opts: { projectsDir?: string; provenance?: Provenance | null } = {}) {
    fs.mkdirSync(userDataDir, { recursive: true });
    this.provenance = opts.provenance === undefined ? new Provenance(userDataDir) : opts.provenance;
    this.file = path.join(userDataDir, REGISTRY_FILE);
    this.projectsDir = opts.projectsDir ?? path.join(userDataDir, 'projects');
    this.data = this.load();
  }

  private load(): RegistryFile {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return { version: 1, defaultProjectId: null, projects: [] };
    }
    try {
      const j = JSON.parse(text) as RegistryFile;
      if (j && j.version === 1 && Array.isArray(j.projects)) return j;
    } catch {
      /* fall through */
    }
    // Keep the unreadable file for the user instead of silently overwriting it.
    fs.renameSync(this.file, `${this.file}.corrupt-${Date.now()}`);
    return { version: 1, defaultProjectId: null, projects: [] };
  }

  private save(): void {
    const temp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(temp, JSON.stringify(this.data, null, 2));
    fs.renameSync(temp, this.file);
  }

  list(): RegisteredProject[] {
    return this.data.projects.map((p) => ({ ...p }));
  }

  get(id: string): RegisteredProject | null {
    const p = this.data.projects.find((x) => x.id === id);
    return p ? { ...p } : null;
  }

  private require(id: string): RegisteredProject {
    const p = this.data.projects.find((x) => x.id === id);
    if (!p) throw new LibraryNotFoundError(`no project with id ${id} in the registry`);
    return p;
  }

  /** Creates a new project folder (in projectsDir unless parentDir is given) and lists it. */
  async create(name: string, parentDir: string = this.projectsDir): Promise<RegisteredProject> {
    if (!name.trim()) throw new LibraryError('project name must not be empty');
    fs.mkdirSync(parentDir, { recursive: true });
    const folderName = freeFolderName(parentDir, name);
    const lib = await ProjectLibrary.create(parentDir, folderName);
    if (folderName !== name.trim()) lib.rename(name);
    try {
      return this.remember(lib);
    } finally {
      lib.close();
    }
  }

  /** Adds an existing `.atelier` folder (e.g. copied from another machine) to the list. */
  async add(dir: string): Promise<RegisteredProject> {
    const existing = this.data.projects.find((p) => path.resolve(p.path) === path.resolve(dir));
    if (existing) return { ...existing };
    const lib = await ProjectLibrary.open(dir);
    try {
      return this.remember(lib);
    } finally {
      lib.close();
    }
  }

  private remember(lib: ProjectLibrary): RegisteredProject {
    const info = lib.info();
    const entry: RegisteredProject = { id: info.id, name: info.name, path: path.resolve(lib.dir), createdAt: info.createdAt, lastOpenedAt: null };
    // The same project copied elsewhere keeps its id: the newest location wins.
    this.data.projects = this.data.projects.filter((p) => p.id !== entry.id);
    this.data.projects.push(entry);
    this.save();
    return { ...entry };
  }

  /** Opens (or returns the already open) library of a listed project. */
  async openProject(id: string, opts: OpenOptions = {}): Promise<ProjectLibrary> {
    const already = this.open.get(id);
    if (already?.isOpen) return already;
    const entry = this.require(id);
    const lib = await ProjectLibrary.open(entry.path, { provenance: this.provenance, ...opts });
    this.open.set(id, lib);
    // Strictly increasing, so two opens within one millisecond still sort in the order they happened.
    const latest = Math.max(0, ...this.data.projects.map((p) => p.lastOpenedAt ?? 0));
    entry.lastOpenedAt = Math.max(Date.now(), latest + 1);
    entry.name = lib.info().name;
    this.save();
    return lib;
  }

  closeProject(id: string): void {
    this.open.get(id)?.close();
    this.open.delete(id);
  }

  closeAll(): void {
    for (const id of [...this.open.keys()]) this.closeProject(id);
  }

  /** Renames a project (display name, in the registry and inside the library). */
  async rename(id: string, name: string): Promise<void> {
    const entry = this.require(id);
    const trimmed = name.trim();
    if (!trimmed) throw new LibraryError('project name must not be empty');
    const openLib = this.open.get(id);
    if (openLib?.isOpen) openLib.rename(trimmed);
    else {
      const lib = await ProjectLibrary.open(entry.path);
      try {
        lib.rename(trimmed);
      } finally {
        lib.close();
      }
    }
    entry.name = trimmed;
    this.save();
  }

  /** Forgets a project; its folder and files are left untouched. */
  removeFromList(id: string): void {
    this.closeProject(id);
    this.data.projects = this.data.projects.filter((p) => p.id !== id);
    if (this.data.defaultProjectId === id) this.data.defaultProjectId = null;
    this.save();
  }

  /** Archives (or, with false, unarchives) a listed project: a flag in the list, nothing on disk changes. */
  setArchived(id: string, archived: boolean): RegisteredProject {
    const entry = this.require(id);
    entry.archivedAt = archived ? Date.now() : null;
    this.save();
    return { ...entry };
  }

  /**
   * Deletes a project for good: closes it, forgets it, and removes its folder (only a folder that is
   * an Atelier project: `.atelier` with its library inside, so a wrong path never deletes anything else).
   */
  async deleteProject(id: string): Promise<void> {
    const entry = this.require(id);
    this.closeProject(id);
    const dir = path.resolve(entry.path);
    const isProject = dir.endsWith('.atelier') && fs.existsSync(path.join(dir, 'library.sqlite'));
    if (fs.existsSync(dir) && !isProject) throw new LibraryError(`refusing to delete ${dir}: it does not look like an Atelier project folder`);
    this.data.projects = this.data.projects.filter((p) => p.id !== id);
    if (this.data.defaultProjectId === id) this.data.defaultProjectId = null;
    this.save();
    if (isProject) await fs.promises.rm(dir, { recursive: true, force: true });
  }

  /** Path to show in the OS file manager ("reveal"). */
  revealPath(id: string): string {
    return this.require(id).path;
  }

  /** The default project, created on first run (or when it vanished from disk). */
  async ensureDefaultProject(): Promise<RegisteredProject> {
    const current = this.data.defaultProjectId ? this.get(this.data.defaultProjectId) : null;
    if (current && fs.existsSync(current.path)) return current;
    let project: RegisteredProject;
    const conventional = path.join(this.projectsDir, `${DEFAULT_PROJECT_NAME}.atelier`);
    if (fs.existsSync(path.join(conventional, 'library.sqlite'))) project = await this.add(conventional);
    else project = await this.create(DEFAULT_PROJECT_NAME);
    this.data.defaultProjectId = project.id;
    this.save();
    return project;
  }
}
