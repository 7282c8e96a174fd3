/** Project libraries: storage, organisation, search and metadata of generated images. */
export { ProjectLibrary, PROJECT_EXTENSION, projectFolderName, setSqliteNativeBinding, type OpenOptions } from './project-library';
export { ProjectRegistry, type RegisteredProject, REGISTRY_FILE, DEFAULT_PROJECT_NAME } from './project-registry';
export { parseInfotext, formatInfotext, infotextToParams, schedulerToA1111, a1111ToScheduler, type ParsedInfotext } from './infotext';
export { readImageMetadata, readImageMetadataWithCredentials, type ImageMetadata, type ImageMetadataWithCredentials, type MetadataSource } from './image-metadata';
export { MIGRATIONS, LATEST_SCHEMA_VERSION, migrate, migrationHash, type Migration } from './migrations';
export { LibraryError, LibraryNotFoundError, SchemaTooNewError, MigrationChangedError, ProjectLockedError, ProjectClosedError } from './errors';
export { ulid } from './ids';
export { moveGenerations, projectModelIds, type MoveResult } from './move';
export { encodeGenerationPng, type AtelierDocument } from './project-files';
export { storeControlImage, controlImageFile, CONTROLS_DIR } from './control-images';
export type { ExportOptions, ExportReport, ExportFormat, ImportReport, ManifestItem } from './transfer';
export type {
  GenerationParams, GenerationParamsInput, GenerationRecord, AddGenerationInput, RawRgbImage, PngImage, ThumbnailRow,
  HistoryQuery, Page, Board, Flag, RngKind, ProjectInfo, ReconcileReport,
} from './types';
