/** Errors the library throws on purpose; messages say what to do about them. */

export class LibraryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Something the caller named (a generation, a board, a project) is not there: the API's `not_found`. */
export class LibraryNotFoundError extends LibraryError {}

/** The database was written by a newer Atelier than this one. */
export class SchemaTooNewError extends LibraryError {
  constructor(readonly path: string, readonly foundVersion: number, readonly supportedVersion: number) {
    super(
      `Project library ${path} uses schema version ${foundVersion}, but this Atelier only understands up to version ` +
        `${supportedVersion}. It was last opened by a newer Atelier — update Atelier to open it (the file was not modified).`,
    );
  }
}

/** A migration that already ran on this database no longer matches the shipped code. */
export class MigrationChangedError extends LibraryError {
  constructor(readonly version: number, readonly migrationName: string, readonly expected: string, readonly actual: string) {
    super(
      `Migration ${version} (${migrationName}) was applied to this project with hash ${expected.slice(0, 12)}…, ` +
        `but the code now ships hash ${actual.slice(0, 12)}…. Shipped migrations must never be edited: ` +
        `restore the original migration and put the change in a new, higher-numbered one.`,
    );
  }
}

/** Another live process holds this project's writer lock. */
export class ProjectLockedError extends LibraryError {
  constructor(readonly dir: string, readonly holder: { pid: number; hostname: string; since: number }) {
    super(
      `Project ${dir} is open elsewhere (process ${holder.pid} on ${holder.hostname} since ` +
        `${new Date(holder.since).toISOString()}). Close it there first; only one Atelier process may write to a project at a time.`,
    );
  }
}

export class ProjectClosedError extends LibraryError {
  constructor(dir: string) {
    super(`Project ${dir} is closed; open it again with ProjectLibrary.open(dir).`);
  }
}
