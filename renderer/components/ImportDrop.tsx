import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { planImport } from '../lib/import-plan';
import { useAtelier, useAtelierStore } from '../state/store';
import { CredentialsBadgeView, credentialsTooltip } from './CredentialsBadge';
import { useModal } from './useModal';

function toBase64(buf: ArrayBuffer): string {
  const bytes = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function OfferDialog({ close, children }: { close(): void; children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  useModal(ref, close);
  return (
    <div ref={ref} tabIndex={-1} className="modal import-offer" role="dialog" aria-modal="true" aria-label="Import parameters" data-testid="import-offer">
      {children}
    </div>
  );
}

/** Window-wide drop target for images: reads their generation metadata and offers to reuse it. */
export function ImportDrop() {
  const store = useAtelierStore();
  const [over, setOver] = useState(false);
  const { offer, apply, dismiss, models, params } = useAtelier(
    useShallow((s) => ({ offer: s.importOffer, apply: s.applyImport, dismiss: s.dismissImport, models: s.models, params: s.params })),
  );

  useEffect(() => {
    const hasFiles = (e: DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
    // A drop target inside the page (a ControlNet unit's image) that took the event has prevented its default.
    const onOver = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      if (e.defaultPrevented) return setOver(false);
      e.preventDefault();
      setOver(true);
    };
    const onLeave = (e: DragEvent) => {
      if (!e.relatedTarget) setOver(false);
    };
    const onDrop = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      setOver(false);
      if (e.defaultPrevented) return;
      e.preventDefault();
      const file = [...(e.dataTransfer?.files ?? [])].find((f) => f.type.startsWith('image/') || /\.(png|jpe?g|webp)$/i.test(f.name));
      if (!file) {
        store.getState().pushToast({ kind: 'error', title: 'Not an image', message: 'Drop a PNG, JPEG or WebP file to read its parameters.' });
        return;
      }
      void file.arrayBuffer().then((buf) => store.getState().importImage(file.name, toBase64(buf)));
    };
    window.addEventListener('dragover', onOver);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('drop', onDrop);
    return () => {
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('drop', onDrop);
    };
  }, [store]);

  // The same plan applyImport uses: what goes into the form, and what does not (in words).
  const plan = offer ? planImport(offer, { models, current: params }) : null;
  return (
    <>
      {over && <div className="drop-overlay" data-testid="drop-overlay">Drop an image to read its generation parameters</div>}
      {offer && plan && (
        <div className="modal-backdrop">
          <OfferDialog close={dismiss}>
            <div className="modal-title">Parameters found in {offer.fileName}</div>
            <div className="muted">
              Source: {offer.source}
              {offer.c2pa && (
                <>
                  {' · '}
                  <CredentialsBadgeView credentials={offer.c2pa} testId="import-credentials" />{' '}
                  <span data-testid="import-credentials-text">{credentialsTooltip(offer.c2pa).split('\n').slice(0, 2).join(' · ')}</span>
                </>
              )}
            </div>
            {offer.prompt && <div className="import-prompt">{offer.prompt}</div>}
            {offer.negativePrompt && <div className="import-prompt muted">Negative: {offer.negativePrompt}</div>}
            <div className="import-params" data-testid="import-applied">
              {plan.applied.map(({ label, value }) => (
                <span key={label} className="chip" data-testid="import-applied-item" data-label={label}>
                  {label}: {value}
                </span>
              ))}
            </div>
            {plan.notApplied.length > 0 && (
              <div className="hint warn" data-testid="import-not-applied">
                <div>Not applied:</div>
                <ul>
                  {plan.notApplied.map((n) => (
                    <li key={n} data-testid="import-not-applied-item">
                      {n}
                    </li>
                  ))}
                </ul>
              </div>
            )}
            <div className="row end">
              <button type="button" data-testid="import-dismiss" onClick={dismiss}>
                Ignore
              </button>
              <button type="button" className="primary" data-testid="import-apply" autoFocus onClick={apply}>
                Use these settings
              </button>
            </div>
          </OfferDialog>
        </div>
      )}
    </>
  );
}
