import { useEffect, useState } from 'react';
import { DISCONNECTED_EVENT, RECONNECTED_EVENT } from '../api/connect';
import { useShallow } from 'zustand/react/shallow';
import { THUMB_LAYOUT } from '../lib/library-prefs';
import { canRun, providerStatuses } from '../lib/providers';
import { compareIds } from '../state/compare-slice';
import { MAX_COMPARE } from '../state/types';
import { FIT_VIEW, zoomAround, type View } from '../lib/view-transform';
import { useAtelier, useAtelierStore } from '../state/store';
import { CompareView } from './CompareView';
import { HistoryStrip } from './HistoryStrip';
import { isTyping, ownsArrowKeys } from './hooks';
import { LeftPanel } from './LeftPanel';
import { ModelsView } from './ModelsView';
import { ImportDrop } from './ImportDrop';
import { ProjectSwitcher } from './ProjectSwitcher';
import { Toasts } from './Toasts';
import { isModalOpen } from './useModal';
import { VariantExplorer } from './VariantExplorer';
import { Viewer } from './Viewer';

function TopBar() {
  const { info, compareMode, selectionCount, toggleCompare, openExplorer, canExplore, openModels, downloading, loaded, loading } = useAtelier(
    useShallow((s) => ({
      info: s.systemInfo,
      compareMode: s.compareMode,
      selectionCount: s.selection.length,
      toggleCompare: s.toggleCompare,
      openExplorer: s.setVariantExplorerOpen,
      canExplore: !!(s.viewingId || s.selection[0]),
      openModels: s.setModelsViewOpen,
      downloading: Object.values(s.downloads).filter((d) => d.state !== 'failed' && d.state !== 'paused').length,
      loaded: s.loadedModel,
      loading: s.modelLoading,
    })),
  );
  // Listed by ONNX Runtime is not the same as able to run: the last model load decides.
  const providers = providerStatuses(info?.executionProviders, loaded, loading);
  return (
    <header className="topbar">
      <span className="brand">Atelier</span>
      <ProjectSwitcher />
      <div className="segmented" role="group" aria-label="Mode">
        <button type="button" data-testid="mode-workspace" className={compareMode ? '' : 'active'} title="Workspace: prompt, canvas, history (C toggles Compare)" onClick={() => toggleCompare(false)}>
          Workspace
        </button>
        <button type="button" data-testid="compare-toggle" className={compareMode ? 'active' : ''} aria-pressed={compareMode} title="Compare selected images (C)" onClick={() => toggleCompare()}>
          Compare{selectionCount > MAX_COMPARE ? ` (${MAX_COMPARE} of ${selectionCount})` : selectionCount > 1 ? ` (${selectionCount})` : ''}
        </button>
      </div>
      <button type="button" data-testid="open-variants" disabled={!canExplore} title="Explore lighting, reflections, seeds, CFG… of the current image (V)" onClick={() => openExplorer(true)}>
        Variants…
      </button>
      <button type="button" data-testid="open-models" title="Installed models, catalog downloads, folder import" onClick={() => openModels(true)}>
        Models{downloading > 0 ? ` (${downloading}↓)` : ''}
      </button>
      <span className="spacer" />
      <div className="eps" data-testid="execution-providers" title="Execution providers: highlighted ones can run models on this machine">
        {providers.map((p) => (
          <span
            key={p.name}
            className={canRun(p) ? 'chip ep' : p.state === 'unavailable' ? 'chip muted unavailable' : 'chip muted'}
            data-ep={p.name}
            data-state={p.state}
            data-available={canRun(p)}
            data-reason={p.reason}
            title={`${p.name}: ${p.reason}`}
          >
            {p.name}
          </span>
        ))}
      </div>
      {info && (
        <span className="muted small" title={`${info.platform}/${info.arch} · ${info.transport}`}>
          v{info.appVersion}
        </span>
      )}
    </header>
  );
}

/**
 * +/− zoom around the centre of a stage, as a keyboard alternative to the wheel. The stage's
 * absolute scale (data-zoom) over the fit-relative zoom gives the fit the clamp needs.
 */
function keyboardZoom(key: string, view: View, stageTestId: string): View | null {
  const factor = key === '+' || key === '=' ? 1.25 : key === '-' || key === '_' ? 0.8 : 0;
  if (!factor) return null;
  const stage = document.querySelector<HTMLElement>(`[data-testid="${stageTestId}"] .stage, .stage[data-testid="${stageTestId}"]`);
  const fit = stage ? Number(stage.dataset.zoom) / view.zoom : 1;
  return zoomAround(view, factor, 0, 0, Number.isFinite(fit) && fit > 0 ? fit : 1);
}

/** Global shortcuts. Compare culling keys only act in compare mode and never while typing. */
function useShortcuts() {
  const store = useAtelierStore();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const s = store.getState();
      // A modal dialog owns the keyboard (its own Tab/Escape handling runs first).
      if (isModalOpen()) return;
      if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
        e.preventDefault();
        void s.requestGenerate();
        return;
      }
      // Ctrl/Cmd+A selects every image in the strip (in a text field it keeps selecting the text).
      if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === 'a' && s.appState === 'ready' && !isTyping(e)) {
        e.preventDefault();
        s.selectAll();
        return;
      }
      if (s.appState !== 'ready' || isTyping(e) || e.altKey || e.ctrlKey || e.metaKey) return;
      const key = e.key.toLowerCase();
      if (e.key === 'Delete') {
        // Delete moves to the trash (with Undo): the selection in the workspace, the focused image in Compare.
        const focused = compareIds(s.selection)[s.compareFocus];
        const ids = s.compareMode ? (focused ? [focused] : []) : s.selection.length > 0 ? s.selection : s.viewingId ? [s.viewingId] : [];
        if (ids.length > 0 && !s.historyFilter.trashed) {
          e.preventDefault();
          void s.trashGenerations(ids);
        }
        return;
      }
      if (key === 'c') {
        s.toggleCompare();
        return;
      }
      if (key === 'v' && (s.viewingId || s.selection[0])) {
        s.setVariantExplorerOpen(true);
        return;
      }
      if (!s.compareMode) {
        if (e.key === 'Escape') {
          // Esc clears the selection (an open context menu closes first, by itself).
          if (!document.querySelector('[data-testid="context-menu"]')) s.clearSelection();
          return;
        }
        // Culling works in the workspace too, on the image in the viewer.
        const id = s.viewingId;
        const cols = THUMB_LAYOUT[s.thumbSize].cols;
        const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols }[e.key];
        if (step && s.historyOrder.length > 0 && !ownsArrowKeys(e)) {
          // Step through the history strip (its columns follow the thumbnail size) without leaving the keyboard.
          e.preventDefault();
          const at = id ? s.historyOrder.indexOf(id) : -1;
          const next = s.historyOrder[Math.max(0, Math.min(s.historyOrder.length - 1, at < 0 ? 0 : at + step))];
          if (next) s.selectInHistory(next, 'single');
          return;
        }
        const zoomed = keyboardZoom(e.key, s.viewerView, 'viewer-stage');
        if (zoomed) s.setViewerView(zoomed);
        else if (key === 'f') s.setViewerView(FIT_VIEW);
        else if (key === 'g') s.toggleLineage();
        else if (id && /^[0-5]$/.test(e.key)) void s.rateAndAdvance(Number(e.key));
        else if (id && (key === 'p' || key === 'x')) {
          const flag = key === 'p' ? 'pick' : 'reject';
          void s.updateGeneration(id, { flag: s.records[id]?.flag === flag ? 'none' : flag });
        }
        return;
      }
      const n = compareIds(s.selection).length;
      const cols = n > 2 ? Math.ceil(Math.sqrt(n)) : 2;
      if (s.compareLayout === 'ab' && s.ab && !s.ab.done && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) {
        e.preventDefault();
        void s.chooseAb(e.key === 'ArrowLeft' ? 'left' : 'right');
        return;
      }
      if (key === 'l') {
        s.toggleLoupe();
      } else if (e.key === 'Tab') {
        // Tab toggles the labels while culling (focus on nothing or on the history tiles the set was
        // picked from); Shift+Tab, or Tab from any other control, moves the focus as usual, so the
        // compare toolbar stays reachable by keyboard.
        const at = document.activeElement;
        const culling = !at || at === document.body || at.matches('[data-testid="history-item"]');
        if (e.shiftKey || !culling) return;
        e.preventDefault();
        s.toggleLabels();
      } else if (e.key === 'ArrowRight') {
        e.preventDefault();
        s.moveCompareFocus(1);
      } else if (e.key === 'ArrowLeft') {
        e.preventDefault();
        s.moveCompareFocus(-1);
      } else if (e.key === 'ArrowDown') {
        e.preventDefault();
        s.moveCompareFocus(cols);
      } else if (e.key === 'ArrowUp') {
        e.preventDefault();
        s.moveCompareFocus(-cols);
      } else if (/^[0-5]$/.test(e.key)) {
        void s.rateAndAdvance(Number(e.key));
      } else if (key === 'p') {
        void s.flagFocused('pick');
      } else if (key === 'x') {
        void s.flagFocused('reject');
      } else if (e.key === 'Escape') {
        s.toggleCompare(false);
      } else if (key === 'f') {
        s.setCompareView(FIT_VIEW);
      } else {
        const zoomed = keyboardZoom(e.key, s.compareView, 'compare-tile');
        if (zoomed) s.setCompareView(zoomed);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [store]);
}

/**
 * Server mode: the server went away (stopped or restarting). Say so while the page reconnects by
 * itself, and resync everything once it is back; Reload stays as the manual way out.
 */
function ConnectionLost({ ready }: { ready: boolean }) {
  const store = useAtelierStore();
  const [lost, setLost] = useState(false);
  useEffect(() => {
    const onLost = () => setLost(true);
    const onBack = () => {
      setLost(false);
      void store.getState().resync();
      store.getState().pushToast({ kind: 'success', title: 'Reconnected', message: 'The Atelier server is back; the queue and history are up to date.' });
    };
    window.addEventListener(DISCONNECTED_EVENT, onLost);
    window.addEventListener(RECONNECTED_EVENT, onBack);
    return () => {
      window.removeEventListener(DISCONNECTED_EVENT, onLost);
      window.removeEventListener(RECONNECTED_EVENT, onBack);
    };
  }, [store]);
  // Before startup finished, the startup error screen already explains a failed connection.
  if (!lost || !ready) return null;
  return (
    <div className="connection-lost" role="alert" data-testid="connection-lost">
      <span>
        <strong>Lost the connection to the Atelier server — reconnecting…</strong> If <code>atelier serve</code> stopped, start it again: this page
        reconnects by itself. Your images are safe in the project folder, and jobs that were running come back as “interrupted — retry”.
      </span>
      <button type="button" className="primary" data-testid="connection-reload" onClick={() => location.reload()}>
        Reload
      </button>
    </div>
  );
}

export function App() {
  const { appState, error, compareMode, explorerOpen, modelsOpen } = useAtelier(
    useShallow((s) => ({
      appState: s.appState,
      error: s.startupError,
      compareMode: s.compareMode,
      explorerOpen: s.variantExplorerOpen,
      modelsOpen: s.modelsViewOpen,
    })),
  );
  useShortcuts();
  return (
    <div className="app" data-app-state={appState} data-mode={compareMode ? 'compare' : 'workspace'} data-testid="app">
      <TopBar />
      <ConnectionLost ready={appState === 'ready'} />
      {appState === 'loading' && (
        <div className="splash" data-testid="splash">
          <div className="spinner" />
          Connecting to the Atelier engine…
        </div>
      )}
      {appState === 'error' && (
        <div className="splash error" data-testid="startup-error">
          <div className="empty-title">Could not reach the Atelier engine</div>
          <div>{error}</div>
          <div className="muted">
            In server mode, start it with <code>atelier serve</code> and reload this page (keep the <code>?token=</code> from the printed URL).
          </div>
          <button type="button" onClick={() => location.reload()}>
            Reload
          </button>
        </div>
      )}
      {appState === 'ready' && (
        <main className="layout">
          <LeftPanel />
          {compareMode ? <CompareView /> : <Viewer />}
          <HistoryStrip />
        </main>
      )}
      {explorerOpen && <VariantExplorer />}
      {modelsOpen && <ModelsView />}
      {appState === 'ready' && <ImportDrop />}
      <Toasts />
    </div>
  );
}
