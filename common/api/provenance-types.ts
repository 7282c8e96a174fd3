/**
 * What the API says about where an image came from: the metadata read from a file, its content
 * credentials (C2PA) and reproducibility receipts. Part of the one contract (common/api/contract.ts
 * re-exports every type).
 */

export interface ImageMetadataInfo {
  source: string;
  prompt?: string;
  negativePrompt?: string;
  params: Record<string, string | number>;
  warnings: string[];
  /** The file's content credentials (C2PA), checked with the official c2pa-rs reader. */
  c2pa?: CredentialsInfo;
}

export interface CredentialSignerInfo {
  commonName?: string;
  issuer?: string;
  serialNumber?: string;
  time?: string;
  /** Signed with this installation's (or its configured studio's) certificate. */
  ownCertificate?: boolean;
}

/** Content credentials (C2PA) of an image: `valid`, `invalid` (tampered or broken), `absent`; `unknown` where the reader cannot run. */
export interface CredentialsInfo {
  state: 'valid' | 'invalid' | 'absent' | 'unknown';
  signer?: CredentialSignerInfo;
  /** e.g. "Atelier 0.1.0". */
  generator?: string;
  /** The image or one of its parents declares AI generation (IPTC digital source type). */
  aiGenerated: boolean;
  digitalSourceType?: string;
  actions: string[];
  model?: { id?: string; hash?: string; family?: string };
  /** 'full' or 'ai-only' for Atelier's own manifests. */
  disclosure?: string;
  /** The disclosed generation parameters (absent when only the fact of AI generation is disclosed). */
  parameters?: Record<string, unknown>;
  /** Parents, nearest first. */
  chain: { title?: string; relationship?: string; generator?: string; signer?: CredentialSignerInfo; actions: string[]; aiGenerated: boolean; state: 'valid' | 'invalid' | 'unknown'; problems: string[] }[];
  problems: string[];
  /** The signer's certificate is on no trust list (true for every self-signed installation certificate). */
  untrusted: boolean;
  warnings: string[];
}

/** A reproducibility receipt: the image regenerated from its own parameters and compared pixel by pixel. */
export interface ReproducibilityReceipt {
  v: 1;
  generationId?: string;
  /** sha256 of the file that was reproduced. */
  fileSha256: string;
  result: 'identical' | 'different';
  /** Mean and largest absolute difference per RGB channel value (0–255); 0 / 0 when identical. */
  meanAbsDiff: number;
  maxDiff: number;
  width: number;
  height: number;
  modelId: string;
  modelHash: string;
  /** Provider the original was made with, and the one that reproduced it. */
  originalProvider: string;
  provider: string;
  paramsSource: string;
  reproducedAt: string;
  appVersion: string;
  note?: string;
}
