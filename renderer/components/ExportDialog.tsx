import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useAtelier } from '../state/store';
import { ModalForm } from './ModalForm';

function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Starts the browser's download of a URL on this origin (the server's prepared export). */
function startDownload(url: string, fileName: string): void {
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/**
 * "Export selected…". In the browser (server mode) the images arrive as a .zip download, like any
 * file from a web page; "Save on the server" writes a folder or .zip on the machine running Atelier
 * instead (what the desktop app always does: there, that machine is yours).
 */
export function ExportDialog({ ids, close }: { ids: string[]; close(): void }) {
  const { home, exportGenerations, prepareDownload, inBrowser } = useAtelier(
    useShallow((s) => ({
      home: s.systemInfo?.userDataDir ?? '',
      exportGenerations: s.exportGenerations,
      prepareDownload: s.prepareExportDownload,
      inBrowser: s.systemInfo?.transport === 'websocket',
    })),
  );
  const [destination, setDestination] = useState<'download' | 'server'>(inBrowser ? 'download' : 'server');
  const [to, setTo] = useState(() => `${home.replace(/[\\/]$/, '')}/exports/atelier-${stamp()}`);
  const [format, setFormat] = useState<'png' | 'jpeg' | 'webp'>('png');
  const [busy, setBusy] = useState(false);
  const download = destination === 'download';
  return (
    <ModalForm
      label="Export images"
      close={close}
      data-testid="export-dialog"
      data-busy={busy}
      data-destination={destination}
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        if (download) {
          void prepareDownload(ids, format).then((r) => {
            if (!r) return setBusy(false);
            startDownload(r.url, r.fileName);
            close();
          });
        } else {
          void exportGenerations(ids, to.trim(), format).then((r) => (r ? close() : setBusy(false)));
        }
      }}
    >
      <div className="modal-title">
        Export {ids.length} image{ids.length === 1 ? '' : 's'}
      </div>
      {inBrowser && (
        <div className="segmented" role="radiogroup" aria-label="Where to">
          <button type="button" role="radio" aria-checked={download} className={download ? 'active' : ''} data-testid="export-dest-download" onClick={() => setDestination('download')}>
            Download .zip
          </button>
          <button type="button" role="radio" aria-checked={!download} className={download ? '' : 'active'} data-testid="export-dest-server" onClick={() => setDestination('server')}>
            Save on the server
          </button>
        </div>
      )}
      {download ? (
        <div className="muted small" data-testid="export-download-note">
          The images and a manifest (JSON + CSV with every parameter) arrive as one .zip in this browser&apos;s downloads.
        </div>
      ) : (
        <label className="field">
          <span>Destination — a new folder, or a path ending in .zip, on the machine running Atelier</span>
          <input autoFocus data-testid="export-path" value={to} onChange={(e) => setTo(e.target.value)} spellCheck={false} />
        </label>
      )}
      <label className="field compact">
        <span>Format</span>
        <select autoFocus={download} data-testid="export-format" value={format} onChange={(e) => setFormat(e.target.value as typeof format)}>
          <option value="png">PNG (keeps the generation parameters)</option>
          <option value="jpeg">JPEG</option>
          <option value="webp">WebP</option>
        </select>
      </label>
      <div className="row end">
        <button type="button" onClick={close}>
          Cancel
        </button>
        <button type="submit" className="primary" data-testid="export-confirm" disabled={busy || (!download && !to.trim())}>
          {busy ? 'Exporting…' : download ? 'Download' : 'Export'}
        </button>
      </div>
    </ModalForm>
  );
}
