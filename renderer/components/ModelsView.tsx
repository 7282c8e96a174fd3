import { useCallback, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { CatalogModel } from '../../common/api/contract';
import { useAtelier } from '../state/store';
import type { DownloadView } from '../state/types';
import { formatBytes, formatMs } from './hooks';
import { SettingsSection } from './SettingsSection';
import { useModal } from './useModal';
import { ImportValidation, InstalledBuild, ProviderCompat } from './ModelDetails';
import { ModelDoctor } from './ModelDoctor';

function DownloadRow({ d }: { d: DownloadView }) {
  const { pause, resume, cancel } = useAtelier(useShallow((s) => ({ pause: s.pauseDownload, resume: s.resumeDownload, cancel: s.cancelDownload })));
  const pct = d.bytesTotal > 0 ? Math.min(100, (d.bytesDone / d.bytesTotal) * 100) : 0;
  const paused = d.state === 'paused';
  const failed = d.state === 'failed';
  return (
    <div className="download" data-testid="download" data-model-id={d.modelId} data-state={d.state} data-resumable={d.resumable}>
      <div className="bar">
        <div style={{ width: `${pct}%` }} />
      </div>
      <div className="download-meta">
        <span>
          {formatBytes(d.bytesDone)} / {d.bytesTotal ? formatBytes(d.bytesTotal) : '?'}
          {!paused && !failed && d.rateBps > 0 && ` · ${formatBytes(d.rateBps)}/s · ${d.etaMs >= 0 ? formatMs(d.etaMs) : '—'} left`}
          {paused && ' · paused'}
        </span>
        <span className="download-actions">
          {!failed && (
            <button type="button" className="icon" data-testid={paused ? 'download-resume' : 'download-pause'} onClick={() => void (paused ? resume(d.modelId) : pause(d.modelId))}>
              {paused ? 'Resume' : 'Pause'}
            </button>
          )}
          {failed && (
            <button
              type="button"
              className="icon"
              data-testid="download-retry"
              title={d.resumable ? 'Try again: continues where it stopped' : 'Try again from the start'}
              onClick={() => void resume(d.modelId)}
            >
              Retry
            </button>
          )}
          <button type="button" className="icon" data-testid="download-cancel" onClick={() => void cancel(d.modelId)}>
            Cancel
          </button>
        </span>
      </div>
      {d.variant && (
        <div className="muted small" data-testid="download-variant" data-variant={d.variant} title={d.variantReason}>
          build: {d.variantReason ?? d.variant}
        </div>
      )}
      {d.error && <div className="error-text small" data-testid="download-error">{d.error}</div>}
    </div>
  );
}

/** `base`: for a ControlNet UNet (`forModel`), the catalog entry of the model whose folder it installs into. */
function CatalogRow({ m, download, base }: { m: CatalogModel; download?: DownloadView; base?: CatalogModel }) {
  const pull = useAtelier((s) => s.pullModel);
  // 'auto': the build made for the provider the app runs on (the server picks it and says which).
  const [variant, setVariant] = useState('auto');
  return (
    <li className="model-row" data-testid="catalog-item" data-model-id={m.id} data-installed={m.installed}>
      <div className="model-row-main">
        <div>
          <strong>{m.name}</strong> <span className="chip">{m.family}</span> <span className="chip">{m.precision}</span>
          {m.kind !== 'pipeline' && <span className="chip">{m.kind}</span>}
        </div>
        <div className="muted small">{m.description}</div>
        <div className="muted small">
          {m.bundled ? 'ships with Atelier' : `${m.sizeApprox ? '≈' : ''}${formatBytes(m.downloadBytes)} download`} · runs on {m.providers.join(', ')} · {m.license}
          {m.estimates?.vramBytes ? ` · needs ~${formatBytes(m.estimates.vramBytes)} VRAM` : ''}
        </div>
        {m.filesFrom === 'hub-tree' && (
          <div className="muted small" data-testid="catalog-hub-tree" title="The catalog names the repo and its diffusers-ONNX layout; the files, their sizes and sha256 come from the hub's listing when you download, and every file is checked against it">
            {m.repo} · file list read from the hub at download (size above is an estimate)
          </div>
        )}
        {m.forModel && (
          <div className="muted small" data-testid="catalog-for-model" data-for-model={m.forModel}>
            adds ControlNet to {base?.name ?? m.forModel} (installs into its folder){base && !base.installed ? ` — install ${base.name} first` : ''}
          </div>
        )}
        {m.installed && m.installedVariant && <div className="muted small" data-testid="catalog-installed-variant">installed build: {m.installedVariant}</div>}
        {download && <DownloadRow d={download} />}
      </div>
      <div>
        {m.installed ? (
          <span className="chip ep">installed</span>
        ) : (
          !download && (
            <span className="row">
              {m.variants && m.variants.length > 0 && (
                <select data-testid="catalog-variant" value={variant} onChange={(e) => setVariant(e.target.value)} title="Which build to download: the one made for the provider Atelier runs on (auto), the generic files, or a provider-specific build">
                  <option value="auto">auto (for this machine's provider)</option>
                  {m.variants.map((v) => (
                    <option key={v.id} value={v.id} title={v.repo}>
                      {v.id} ({v.precision}, {v.providers.join(', ')})
                    </option>
                  ))}
                </select>
              )}
              <button
                type="button"
                data-testid="catalog-download"
                disabled={m.forModel !== undefined && base?.installed === false}
                title={m.forModel !== undefined && base?.installed === false ? `Install ${base.name} first: this installs into its folder` : undefined}
                onClick={() => void pull(m.id, variant)}
              >
                Download
              </button>
            </span>
          )
        )}
      </div>
    </li>
  );
}

export function ModelsView() {
  const s = useAtelier(
    useShallow((st) => ({
      models: st.models,
      catalog: st.catalog,
      downloads: st.downloads,
      importResult: st.importResult,
      close: st.setModelsViewOpen,
      remove: st.removeModel,
      importModel: st.importModel,
      pull: st.pullModel,
      loaded: st.loadedModel,
    })),
  );
  const dialog = useRef<HTMLDivElement>(null);
  useModal(dialog, useCallback(() => s.close(false), [s.close]));
  const [folder, setFolder] = useState('');
  const [mode, setMode] = useState<'reference' | 'copy'>('reference');
  const [source, setSource] = useState('');
  // Removing is destructive: the first click asks, the second removes.
  const [removing, setRemoving] = useState<string | null>(null);
  // The installed model whose "Check" panel (model doctor) is open.
  const [checking, setChecking] = useState<string | null>(null);
  const catalogIds = new Set(s.catalog.map((m) => m.id));
  const orphanDownloads = Object.values(s.downloads).filter((d) => !catalogIds.has(d.modelId));

  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && s.close(false)}>
      <div ref={dialog} tabIndex={-1} className="modal models-view" role="dialog" aria-modal="true" aria-label="Models" data-testid="models-view">
        <div className="section-head">
          <span className="modal-title">Models</span>
          <button type="button" className="icon" data-testid="models-close" title="Close (Esc)" onClick={() => s.close(false)}>
            ✕
          </button>
        </div>

        <section>
          <div className="section-head">Installed</div>
          <ul className="model-list" data-testid="installed-models">
            {s.models.length === 0 && <li className="empty small">No models installed. Download one from the catalog below or import a folder.</li>}
            {s.models.map((m) => (
              <li key={m.id} className="model-row" data-testid="installed-model" data-model-id={m.id}>
                <div className="model-row-main">
                  <div>
                    <strong>{m.name}</strong> <span className="chip">{m.family}</span> <span className="chip">{m.source}</span>
                    {s.loaded?.modelId === m.id && <span className="chip ep">loaded on {s.loaded.provider}</span>}
                  </div>
                  <div className="muted small">
                    {formatBytes(m.sizeBytes)} on disk · <ProviderCompat modelId={m.id} />
                    <InstalledBuild modelId={m.id} />
                    {m.description ? ` · ${m.description}` : ''}
                  </div>
                  {checking === m.id && <ModelDoctor modelId={m.id} />}
                </div>
                <button type="button" data-testid="model-check" aria-expanded={checking === m.id} title="Check this model for an execution provider: precision, shapes, ops it cannot run, memory" onClick={() => setChecking(checking === m.id ? null : m.id)}>
                  {checking === m.id ? 'Hide check' : 'Check'}
                </button>
                {m.source !== 'bundled' && (
                  <button
                    type="button"
                    className="danger"
                    data-testid="model-remove"
                    data-confirm={removing === m.id}
                    title={m.source === 'imported' ? 'Remove this imported model from Atelier (your original folder is not touched); click twice' : "Delete this model's files from the models folder; click twice"}
                    onClick={() => {
                      if (removing !== m.id) return setRemoving(m.id);
                      setRemoving(null);
                      void s.remove(m.id);
                    }}
                    onBlur={() => setRemoving(null)}
                  >
                    {removing === m.id ? 'Remove? Click again' : 'Remove'}
                  </button>
                )}
              </li>
            ))}
          </ul>
        </section>

        <section>
          <div className="section-head">Catalog</div>
          <ul className="model-list" data-testid="catalog">
            {s.catalog.length === 0 && <li className="empty small">The catalog is empty or could not be loaded.</li>}
            {s.catalog.map((m) => (
              <CatalogRow key={m.id} m={m} download={s.downloads[m.id]} base={m.forModel ? s.catalog.find((b) => b.id === m.forModel) : undefined} />
            ))}
          </ul>
          {orphanDownloads.map((d) => (
            <div key={d.modelId} className="model-row">
              <div className="model-row-main">
                <strong>{d.modelId}</strong>
                <DownloadRow d={d} />
              </div>
            </div>
          ))}
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              if (source.trim()) void s.pull(source.trim());
              setSource('');
            }}
          >
            <input className="grow" data-testid="pull-source" placeholder="Hugging Face repo (owner/name) or URL" value={source} onChange={(e) => setSource(e.target.value)} />
            <button type="submit" data-testid="pull-submit" disabled={!source.trim()}>
              Download
            </button>
          </form>
        </section>

        <section>
          <div className="section-head">Import a local folder</div>
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              if (folder.trim()) void s.importModel(folder.trim(), mode);
            }}
          >
            <input className="grow" data-testid="import-folder" placeholder="/path/to/diffusers-onnx-model" value={folder} onChange={(e) => setFolder(e.target.value)} />
            <select data-testid="import-mode" value={mode} onChange={(e) => setMode(e.target.value as 'reference' | 'copy')} title="Reference keeps the files where they are; copy moves a copy into Atelier's models folder">
              <option value="reference">Reference</option>
              <option value="copy">Copy</option>
            </select>
            <button type="submit" data-testid="import-submit" disabled={!folder.trim()}>
              Validate &amp; import
            </button>
          </form>
          {s.importResult && (
            <ImportValidation ok={s.importResult.ok} message={s.importResult.message} />
          )}
        </section>

        <SettingsSection />
      </div>
    </div>
  );
}
