/**
 * Provenance: content credentials (C2PA) on every image Atelier writes, verification of the ones
 * it reads, and reproducibility receipts. The library and the app reach it only through here.
 */
export { Provenance, withoutPngManifest, sharedSigningProcess, shutdownSigningProcess, type ParentFile, type ProvenanceOptions, type SignOutcome } from './provenance';
export { SignerProcess, SignerProcessError, SignerCrashedError, SignerTimeoutError, SignerUnavailableError, KEEP_FREED_MEMORY, type SignerProcessOptions } from './signer-process';
export { readCredentials, summarise, detectMime, type Credentials, type CredentialLink, type CredentialSigner, type CredentialState } from './verify';
export {
  DISCLOSURES, GENERATION_ASSERTION, TRAINED_ALGORITHMIC_MEDIA, COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA, editKind, generationManifest, importManifest,
  type Disclosure, type EditKind, type GenerationFacts,
} from './manifest';
export { installationIdentity, signingIdentity, readSignerConfig, SignerConfigError, PROVENANCE_DIR, INSTALLATION_DIR, KEY_FILE, CERT_FILE, SIGNER_CONFIG, type SigningIdentity } from './identity';
export { selfSignedCertificate } from './certificate';
export { c2paUnavailableReason, type ImageMime } from './c2pa';
export { comparePixels, writeReceipt, readReceipt, receiptPath, projectDirOfImage, RECEIPTS_DIR, type Receipt, type PixelDifference } from './receipts';
