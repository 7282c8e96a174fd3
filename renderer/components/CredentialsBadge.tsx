/**
 * Content credentials (C2PA) of a stored image as a small badge: verified (the signature and the
 * pixels check out), modified (credentials present but invalid: the file changed after signing, or
 * the manifest is broken), none. The tooltip names the signer and what the manifest records.
 * The server verifies with the official c2pa-rs reader; a stored image's badge asks for it on first
 * show, a dropped file's comes with its metadata (readImageMetadata).
 */
import { useEffect, type CSSProperties } from 'react';
import type { CredentialsInfo } from '../../common/api/contract';
import { useAtelier } from '../state/store';

export type BadgeState = 'verified' | 'modified' | 'none' | 'unchecked' | 'checking';

export function badgeState(c: CredentialsInfo | undefined): BadgeState {
  if (!c) return 'checking';
  if (c.state === 'valid') return 'verified';
  if (c.state === 'invalid') return 'modified';
  if (c.state === 'absent') return 'none';
  return 'unchecked';
}

const LABEL: Record<BadgeState, string> = { verified: 'CR ✓', modified: 'CR ✗', none: 'no CR', unchecked: 'CR ?', checking: 'CR …' };
const WORDS: Record<BadgeState, string> = {
  verified: 'Content credentials verified',
  modified: 'Content credentials present but INVALID: the image was modified after signing, or its manifest is damaged',
  none: 'No content credentials',
  unchecked: 'Content credentials could not be checked',
  checking: 'Checking content credentials…',
};
const COLOURS: Record<BadgeState, CSSProperties> = {
  verified: { background: '#2f9e5b', color: '#000' },
  modified: { background: '#d9534f', color: '#000' },
  none: { background: '#18191ccc', color: '#aaa' },
  unchecked: { background: '#18191ccc', color: '#d9a441' },
  checking: { background: '#18191ccc', color: '#777' },
};

function signerLine(c: CredentialsInfo): string | null {
  const s = c.signer;
  if (!s) return null;
  const who = s.commonName ?? s.issuer ?? 'an unnamed certificate';
  const own = s.ownCertificate ? ' (this installation)' : '';
  const trust = c.untrusted ? ', self-signed (not on a public trust list)' : '';
  return `Signed by ${who}${own}${trust}`;
}

/** What the manifest records, in words: generator, AI claim, model, parameters or only the fact, parents. */
export function credentialsTooltip(c: CredentialsInfo | undefined): string {
  const state = badgeState(c);
  const lines = [WORDS[state]];
  if (!c) return lines[0];
  const signer = signerLine(c);
  if (signer) lines.push(signer);
  if (c.generator) lines.push(`Made with ${c.generator}`);
  if (c.aiGenerated) lines.push(`Declares AI generation${c.digitalSourceType ? ` (${c.digitalSourceType.split('/').pop()})` : ''}`);
  if (c.actions.length) lines.push(`Actions: ${c.actions.join(', ')}`);
  if (c.model?.id || c.model?.hash) lines.push(`Model: ${c.model.id ?? 'unnamed'}${c.model.hash ? ` (hash ${c.model.hash.slice(0, 10)})` : ''}`);
  if (c.parameters) {
    const p = c.parameters;
    const bits = [typeof p.prompt === 'string' ? `prompt “${p.prompt.length > 80 ? `${p.prompt.slice(0, 80)}…` : p.prompt}”` : '', p.seed !== undefined ? `seed ${String(p.seed)}` : '', p.steps !== undefined ? `${String(p.steps)} steps` : '', p.scheduler ? String(p.scheduler) : '']
      .filter(Boolean)
      .join(', ');
    lines.push(`Records the full parameters: ${bits}`);
  } else if (c.disclosure === 'ai-only') {
    lines.push('Records only that it is AI-generated (the project keeps its parameters private)');
  }
  if (c.chain.length) lines.push(`Parents: ${c.chain.map((l) => `${l.title ?? 'untitled'} (${l.state})`).join(' ← ')}`);
  if (c.problems.length) lines.push(`Problems: ${c.problems.slice(0, 3).join('; ')}`);
  if (state === 'unchecked' && c.warnings.length) lines.push(c.warnings[0]);
  return lines.join('\n');
}

/** The badge for credentials already at hand (a dropped file's, read with its metadata). */
export function CredentialsBadgeView({ credentials, testId = 'credentials-badge', compact = false }: { credentials: CredentialsInfo | undefined; testId?: string; compact?: boolean }) {
  const state = badgeState(credentials);
  if (compact && state === 'checking') return null;
  return (
    <span
      className="credentials-badge"
      data-testid={testId}
      data-state={state}
      data-signer={credentials?.signer?.commonName ?? ''}
      title={credentialsTooltip(credentials)}
      aria-label={WORDS[state]}
      style={{ ...COLOURS[state], fontSize: 10, fontWeight: 700, padding: '0 4px', borderRadius: 3, pointerEvents: 'auto', whiteSpace: 'nowrap' }}
    >
      {LABEL[state]}
    </span>
  );
}

/** The badge of one stored image; asks the store to verify it when first shown. */
export function CredentialsBadge({ id, testId = 'credentials-badge', compact = false }: { id: string; testId?: string; compact?: boolean }) {
  const c = useAtelier((s) => s.credentials[id]);
  const ensure = useAtelier((s) => s.ensureCredentials);
  useEffect(() => {
    if (!c) ensure([id]);
  }, [c, id, ensure]);
  return <CredentialsBadgeView credentials={c} testId={testId} compact={compact} />;
}
