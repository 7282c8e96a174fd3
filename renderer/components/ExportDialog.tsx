import { useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useAtelier } from '../state/store';
import { useModal } from './useModal';

function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** "Export selected…": a folder or .zip on the machine running Atelier, in PNG/JPEG/WebP. */
export function ExportDialog({ ids, close }: { ids: string[]; close(): void }) {
  const { home, exportGenerations } = useAtelier(useShallow((s) => ({ home: s.systemInfo?.userDataDir ?? '', exportGenerations: s.exportGenerations })));
  const [to, setTo] = useState(() => `${home.replace(/[\\/]$/, '')}/exports/atelier-${stamp()}`);
  const [format, setFormat] = useState<'png' | 'jpeg' | 'webp'>('png');
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLFormElement>(null);
  useModal(ref, close);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && close()}>
      <form
        ref={ref}
        tabIndex={-1}
        className="modal export-dialog"
        role="dialog"
        aria-modal="true"
        aria-label="Export images"
        data-testid="export-dialog"
        data-busy={busy}
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          void exportGenerations(ids, to.trim(), format).then((r) => (r ? close() : setBusy(false)));
        }}
      >
        <div className="modal-title">
          Export {ids.length} image{ids.length === 1 ? '' : 's'}
        </div>
        <label className="field">
          <span>Destination — a new folder, or a path ending in .zip, on the machine running Atelier</span>
          <input autoFocus data-testid="export-path" value={to} onChange={(e) => setTo(e.target.value)} spellCheck={false} />
        </label>
        <label className="field compact">
          <span>Format</span>
          <select data-testid="export-format" value={format} onChange={(e) => setFormat(e.target.value as typeof format)}>
            <option value="png">PNG (keeps the generation parameters)</option>
            <option value="jpeg">JPEG</option>
            <option value="webp">WebP</option>
          </select>
        </label>
        <div className="row end">
          <button type="button" onClick={close}>
            Cancel
          </button>
          <button type="submit" className="primary" data-testid="export-confirm" disabled={busy || !to.trim()}>
            {busy ? 'Exporting…' : 'Export'}
          </button>
        </div>
      </form>
    </div>
  );
}
