import { useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { viewerMetaLine } from '../lib/infotext';
import { actualSizeView, FIT_VIEW } from '../lib/view-transform';
import { useAtelier } from '../state/store';
import type { JobView } from '../state/types';
import { formatMs } from './hooks';
import { ImageStage } from './ImageStage';
import { CredentialsBadge } from './CredentialsBadge';
import { LineageStrip } from './LineageStrip';
import { MOD } from './LeftPanel';
import { MaskCanvas } from './MaskCanvas';
import { defaultMargins, frameLimits } from '../lib/outpaint';
import { OutpaintFrame, useSizeStep } from './OutpaintFrame';
import { ControlStrip } from './ControlStrip';

/** The job the viewer reports on: the running one, else the oldest queued one. */
function useActiveJob(): JobView | null {
  return useAtelier((s) => {
    let queued: JobView | null = null;
    for (const id of s.jobOrder) {
      const j = s.jobs[id];
      if (j?.state === 'running') return j;
      if (j?.state === 'queued' && !queued) queued = j;
    }
    return queued;
  });
}

function ProgressOverlay({ job }: { job: JobView }) {
  const pct = job.total > 0 ? (job.step / job.total) * 100 : 0;
  return (
    <div className="progress-overlay" data-testid="job-progress" data-job-id={job.jobId} data-state={job.state} data-step={job.step} data-total={job.total}>
      <div className="bar">
        <div style={{ width: `${pct}%` }} />
      </div>
      <div className="progress-text">
        <span data-testid="step-counter">{job.state === 'queued' ? 'Queued…' : `Step ${job.step}/${job.total || '?'}`}</span>
        <span data-testid="eta">ETA {formatMs(job.etaMs)}</span>
      </div>
    </div>
  );
}

/** Content credentials of the viewed image, and Reproduce with its verdict (from this session or the receipt stored beside it). */
function ProvenanceTools({ id }: { id: string }) {
  const { receipt, reproducing, reproduce, loadReceipt } = useAtelier(
    useShallow((s) => ({ receipt: s.receipts[id], reproducing: s.reproducing.includes(id), reproduce: s.reproduceGeneration, loadReceipt: s.loadReceipt })),
  );
  useEffect(() => {
    void loadReceipt(id);
  }, [id, loadReceipt]);
  return (
    <>
      <CredentialsBadge id={id} testId="viewer-credentials" />
      <button
        type="button"
        data-testid="reproduce"
        disabled={reproducing}
        title="Reproduce: regenerate this image from the parameters in its own file and check that every pixel matches"
        onClick={() => void reproduce(id)}
      >
        {reproducing ? 'Reproducing…' : 'Reproduce'}
      </button>
      {receipt && !reproducing && (
        <span
          className="muted viewer-meta"
          data-testid="reproduce-result"
          data-result={receipt.result}
          title={`Reproduced ${receipt.reproducedAt} with ${receipt.modelId} on ${receipt.provider}${receipt.note ? ` — ${receipt.note}` : ''}`}
        >
          {receipt.result === 'identical' ? 'Reproduced: bit-identical ✓' : `Reproduced: differs (mean ${receipt.meanAbsDiff}, max ${receipt.maxDiff})`}
        </span>
      )}
    </>
  );
}

export function Viewer() {
  const job = useActiveJob();
  const { record, followJobs, viewerView: view, setView, viewingId, showLineage, toggleLineage, init, maskEditing, maskBrush, maskErase, setInitImage, setMaskEditing, setMaskTool, updateInit, view: viewImage, setOutpaint } = useAtelier(
    useShallow((s) => ({
      record: s.viewingId ? (s.records[s.viewingId] ?? null) : null,
      viewingId: s.viewingId,
      followJobs: s.followJobs,
      viewerView: s.viewerView,
      setView: s.setViewerView,
      showLineage: s.showLineage,
      toggleLineage: s.toggleLineage,
      init: s.initImage,
      maskEditing: s.maskEditing,
      maskBrush: s.maskBrush,
      maskErase: s.maskErase,
      setInitImage: s.setInitImage,
      setMaskEditing: s.setMaskEditing,
      setMaskTool: s.setMaskTool,
      updateInit: s.updateInit,
      view: s.view,
      setOutpaint: s.setOutpaint,
    })),
  );
  const step = useSizeStep();
  const showPreview = !!job && followJobs && !!job.previewUrl;
  const width = showPreview ? (job.request?.width ?? record?.width ?? 64) : (record?.width ?? 64);
  const height = showPreview ? (job.request?.height ?? record?.height ?? 64) : (record?.height ?? 64);
  const src = showPreview ? job.previewUrl : (record?.imageUrl ?? null);
  const showsInit = !!init && !showPreview && !!record && record.id === init.generationId;
  const masking = maskEditing && showsInit;
  const outpainting = !!init?.outpaint && showsInit;
  return (
    <section className="viewer" data-testid="viewer" data-viewing-id={viewingId ?? ''} data-showing={showPreview ? 'preview' : record ? 'image' : 'empty'}>
      <ImageStage testId="viewer-stage" src={src} width={width} height={height} view={view} onView={setView} alt={record?.prompt ?? 'preview'}
        imageLayer={masking ? (place) => <MaskCanvas place={place} /> : outpainting ? (place) => <OutpaintFrame place={place} /> : undefined}
        hud={({ scale, fit }) => src && (
          <div className="viewer-toolbar" data-no-pan>
            <button type="button" data-testid="zoom-fit" title="Fit (F)" onClick={() => setView(FIT_VIEW)}>
              Fit
            </button>
            <button type="button" data-testid="zoom-100" title="Actual size: one image pixel per screen pixel" onClick={() => setView(actualSizeView(fit))}>
              100%
            </button>
            <span className="muted" data-testid="zoom-readout" title="Wheel or +/− zooms · drag (or Space+drag) pans · F fits">
              {Math.round(scale * 100)}%
            </span>
            {record && (
              <button type="button" data-testid="toggle-lineage" aria-pressed={showLineage} className={showLineage ? 'active' : ''} title="Lineage: parents and variants of this image (G)" onClick={() => toggleLineage()}>
                Lineage
              </button>
            )}
            {record && !showPreview && <ProvenanceTools id={record.id} />}
            {record && !showPreview && (
              <button type="button" data-testid="use-as-init" title="Use this image as the init image (img2img / inpainting)" className={init?.generationId === record.id ? 'active' : ''} onClick={() => setInitImage(record)}>
                Use as init
              </button>
            )}
            {init && (
              <button
                type="button"
                data-testid="mask-toggle"
                aria-pressed={maskEditing}
                className={maskEditing ? 'active' : ''}
                title="Paint an inpainting mask over the init image (white = repaint) · hold Space to pan"
                onClick={() => {
                  if (!maskEditing) viewImage(init.generationId);
                  setMaskEditing(!maskEditing);
                }}
              >
                Mask
              </button>
            )}
            {init && (
              <button
                type="button"
                data-testid="outpaint-toggle"
                aria-pressed={!!init.outpaint}
                className={init.outpaint ? 'active' : ''}
                title="Outpaint: grow the init image — move and resize the frame over the canvas around it"
                onClick={() => {
                  if (init.outpaint) {
                    setOutpaint(null);
                    setView(FIT_VIEW);
                    return;
                  }
                  viewImage(init.generationId);
                  setMaskEditing(false);
                  setOutpaint(defaultMargins(frameLimits(init.width, init.height, step)));
                  // Zoom out so the largest frame (3× the picture each way) fits on screen.
                  setView({ zoom: 1 / 3.2, panX: 0, panY: 0 });
                }}
              >
                Outpaint
              </button>
            )}
            {init && maskEditing && <span className="toolbar-break" />}
            {init && maskEditing && (
              <span className="mask-tools" data-testid="mask-tools">
                <label title="Brush diameter in image pixels">
                  Brush
                  <input type="range" data-testid="mask-brush-size" min={1} max={Math.max(8, Math.round(Math.max(init.width, init.height) / 2))} step={1} value={maskBrush} onChange={(e) => setMaskTool({ maskBrush: e.target.valueAsNumber })} />
                  <span className="muted">{maskBrush}px</span>
                </label>
                <label title="Feather: soften the mask edge (the same blur as the init panel's Mask blur); 0 keeps unmasked pixels exactly">
                  Feather
                  <input type="range" data-testid="mask-feather" min={0} max={64} step={1} value={init.maskBlur} onChange={(e) => updateInit({ maskBlur: e.target.valueAsNumber })} />
                  <span className="muted">{init.maskBlur}px</span>
                </label>
                <button type="button" data-testid="mask-eraser" aria-pressed={maskErase} className={maskErase ? 'active' : ''} title="Eraser: paint to remove mask" onClick={() => setMaskTool({ maskErase: !maskErase })}>
                  Eraser
                </button>
                <button type="button" data-testid="mask-clear" title="Clear the mask" onClick={() => updateInit({ maskBase64: null, maskCoverage: null })}>
                  Clear
                </button>
              </span>
            )}
            <span className="spacer" />
            {record && !showPreview && (
              <span className="muted viewer-meta" data-testid="viewer-meta">
                {viewerMetaLine(record)}
              </span>
            )}
          </div>
        )}
      >
        {!src && !job && (
          <div className="empty big" data-testid="viewer-empty">
            <div className="empty-title">Nothing to show yet</div>
            <div>
              Type a prompt and press <kbd>{MOD}+Enter</kbd>, or pick an image from the history on the right.
            </div>
            <div className="muted">Wheel or +/− zooms, drag or Space+drag pans, F or Fit/100% reset the view.</div>
          </div>
        )}
        {showPreview && <div className="preview-badge">live preview · step {job.previewStep}</div>}
      </ImageStage>
      <ControlStrip />
      {record && showLineage && !showPreview && <LineageStrip record={record} />}
      {job && <ProgressOverlay job={job} />}
    </section>
  );
}
