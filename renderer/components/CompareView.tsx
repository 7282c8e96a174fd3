import { useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { GenerationRecord } from '../../common/api/contract';
import { diffParams, type DiffLabel } from '../lib/param-diff';
import { FIT_VIEW } from '../lib/view-transform';
import { compareIds } from '../state/compare-slice';
import { useAtelier } from '../state/store';
import { ImageStage } from './ImageStage';

function Label({ labels }: { labels: DiffLabel[] }) {
  if (labels.length === 0) return <div className="diff-label muted" data-testid="compare-label">identical parameters</div>;
  return (
    <div className="diff-label" data-testid="compare-label">
      {labels.map((l) => (
        <span key={l.field} className="diff-item" data-field={l.field}>
          <span className="diff-key">{l.label}</span>{' '}
          {l.words
            ? l.words.map((w) => (
                <span key={w.kind + w.word} className={`word-${w.kind}`} data-kind={w.kind}>
                  {w.kind === 'added' ? '+' : '−'}
                  {w.word}
                </span>
              ))
            : <span className="diff-value">{l.value}</span>}
        </span>
      ))}
    </div>
  );
}

function TileFooter({ r }: { r: GenerationRecord }) {
  return (
    <div className="tile-footer">
      <span className="stars" data-testid="tile-rating" data-rating={r.rating}>
        {'★'.repeat(r.rating)}
        <span className="muted">{'☆'.repeat(5 - r.rating)}</span>
      </span>
      {r.flag !== 'none' && <span className={`flag ${r.flag}`}>{r.flag === 'pick' ? 'PICK' : 'REJECT'}</span>}
    </div>
  );
}

export function CompareView() {
  const s = useAtelier(
    useShallow((st) => ({
      ids: st.selection,
      records: st.records,
      layout: st.compareLayout,
      view: st.compareView,
      setView: st.setCompareView,
      focus: st.compareFocus,
      setFocus: st.setCompareFocus,
      showLabels: st.showLabels,
      swipe: st.swipe,
      setSwipe: st.setSwipe,
      setLayout: st.setCompareLayout,
      toggleLabels: st.toggleLabels,
      exit: st.toggleCompare,
      ab: st.ab,
      chooseAb: st.chooseAb,
      startAb: st.startAb,
      loupe: st.loupe,
      loupePoint: st.loupePoint,
      toggleLoupe: st.toggleLoupe,
      setLoupePoint: st.setLoupePoint,
    })),
  );
  // Compare shows the first 16 of a (possibly larger) library selection.
  const items = useMemo(() => compareIds(s.ids).map((id) => s.records[id]).filter((r): r is GenerationRecord => !!r), [s.ids, s.records]);
  const labels = useMemo(() => diffParams(items), [items]);
  const abPair = useMemo(() => {
    if (!s.ab) return null;
    const champion = s.records[s.ab.champion];
    const challenger = s.ab.challengers[0] ? s.records[s.ab.challengers[0]] : undefined;
    return champion ? { champion, challenger } : null;
  }, [s.ab, s.records]);
  const abLabels = useMemo(() => (abPair?.challenger ? diffParams([abPair.champion, abPair.challenger]) : [[], []]), [abPair]);

  if (items.length < 2) {
    return (
      <section className="compare" data-testid="compare" data-count={items.length}>
        <div className="empty big" data-testid="compare-empty">
          <div className="empty-title">Compare</div>
          <div>Select two or more images in the history (Ctrl-click, Shift-click for a range) to compare them side by side.</div>
          <div className="muted">Up to 16 images · arrows move · 1–5 rate · P/X pick/reject · Tab toggles labels · C leaves</div>
          <button type="button" data-testid="compare-exit" title="Back to the workspace (C or Esc)" onClick={() => s.exit(false)}>
            Back to workspace
          </button>
        </div>
      </section>
    );
  }

  const layout = s.layout === 'ab' && abPair ? 'ab' : items.length > 2 ? 'grid' : s.layout === 'ab' ? 'side' : s.layout;
  const loupeProps = s.loupe ? { loupe: s.loupePoint, onHover: s.setLoupePoint } : {};
  const cols = layout === 'side' ? 2 : Math.ceil(Math.sqrt(items.length));
  const focus = Math.min(s.focus, items.length - 1);

  return (
    <section className="compare" data-testid="compare" data-count={items.length} data-layout={layout} data-labels={s.showLabels}>
      <div className="compare-toolbar">
        <div className="segmented" role="group" aria-label="Compare layout">
          <button type="button" data-testid="layout-side" className={layout === 'side' ? 'active' : ''} disabled={items.length > 2} title="Two images side by side, zoom and pan synchronised (wheel or +/−, drag)" onClick={() => s.setLayout('side')}>
            2-up
          </button>
          <button type="button" data-testid="layout-swipe" className={layout === 'swipe' ? 'active' : ''} disabled={items.length !== 2} title="Two images on top of each other with a swipe slider" onClick={() => s.setLayout('swipe')}>
            Swipe
          </button>
          <button type="button" data-testid="layout-grid" className={layout === 'grid' ? 'active' : ''} title="All selected images (up to 16) in a synchronised grid · arrows move the focus · L loupe" onClick={() => s.setLayout('grid')}>
            Grid
          </button>
          <button
            type="button"
            data-testid="layout-ab"
            className={layout === 'ab' ? 'active' : ''}
            title="Winner stays: the left image meets each other one in turn (← keep left, → right wins)"
            onClick={() => s.setLayout('ab')}
          >
            A/B
          </button>
        </div>
        <button type="button" data-testid="toggle-loupe" aria-pressed={s.loupe} className={s.loupe ? 'active' : ''} onClick={s.toggleLoupe} title="Synchronised loupe (L)">
          Loupe
        </button>
        <button type="button" data-testid="compare-fit" onClick={() => s.setView(FIT_VIEW)} title="Reset zoom on all tiles (F)">
          Fit all
        </button>
        <button type="button" data-testid="toggle-labels" aria-pressed={s.showLabels} onClick={s.toggleLabels} title="Toggle labels (Tab while no control has focus; Shift+Tab moves into the toolbar)">
          Labels
        </button>
        <span className="spacer" />
        <span className="muted">
          {layout === 'ab' ? '← keep left · → right wins · 1–5 rate left' : '←→ move · 1–5 rate · P pick · X reject · Tab labels · L loupe'}
        </span>
        <button type="button" data-testid="compare-exit" onClick={() => s.exit(false)} title="Leave compare (C)">
          Done
        </button>
      </div>
      {layout === 'ab' && abPair ? (
        <div className="compare-ab" data-testid="compare-ab" data-round={s.ab!.round} data-total={s.ab!.total} data-done={s.ab!.done} data-champion={abPair.champion.id}>
          <div className="ab-status">
            {s.ab!.done ? (
              <>
                Winner: seed {abPair.champion.seed} (flagged as a pick){' '}
                <button type="button" data-testid="ab-restart" title="Start the winner-stays rounds again" onClick={s.startAb}>
                  Run again
                </button>
              </>
            ) : (
              <>
                Round {s.ab!.round} of {s.ab!.total}
              </>
            )}
          </div>
          <div className="compare-grid" style={{ gridTemplateColumns: abPair.challenger && !s.ab!.done ? 'repeat(2, minmax(0, 1fr))' : 'minmax(0, 1fr)' }}>
            {[abPair.champion, ...(abPair.challenger && !s.ab!.done ? [abPair.challenger] : [])].map((r, i) => (
              <div key={r.id} className="compare-tile" data-testid="compare-tile" data-id={r.id} data-side={i === 0 ? 'left' : 'right'}>
                <ImageStage src={r.imageUrl} width={r.width} height={r.height} view={s.view} onView={s.setView} alt={r.prompt} {...loupeProps} />
                {s.showLabels && <Label labels={abLabels[i] ?? []} />}
                {!s.ab!.done && (
                  <button type="button" className="ab-choose" data-testid={i === 0 ? 'ab-keep-left' : 'ab-right-wins'} title={i === 0 ? 'Keep the left image (←)' : 'The right image wins (→)'} onClick={() => void s.chooseAb(i === 0 ? 'left' : 'right')}>
                    {i === 0 ? '← Keep' : 'Wins →'}
                  </button>
                )}
                <TileFooter r={r} />
              </div>
            ))}
          </div>
        </div>
      ) : layout === 'swipe' ? (
        <div className="compare-swipe">
          <ImageStage
            testId="compare-swipe"
            src={items[0]!.imageUrl}
            width={items[0]!.width}
            height={items[0]!.height}
            view={s.view}
            onView={s.setView}
            overlay={{ src: items[1]!.imageUrl, swipe: s.swipe }}
          >
            <input
              data-no-pan
              className="swipe-slider"
              type="range"
              min={0}
              max={1}
              step={0.001}
              value={s.swipe}
              data-testid="swipe-slider"
              aria-label="Swipe position"
              onChange={(e) => s.setSwipe(Number(e.target.value))}
            />
            <div className="swipe-line" style={{ left: `${s.swipe * 100}%` }} />
            {s.showLabels && (
              <>
                <div className="swipe-label left"><Label labels={labels[0]!} /></div>
                <div className="swipe-label right"><Label labels={labels[1]!} /></div>
              </>
            )}
          </ImageStage>
        </div>
      ) : (
        <div className="compare-grid" style={{ gridTemplateColumns: `repeat(${cols}, minmax(0, 1fr))`, gridTemplateRows: `repeat(${Math.ceil(items.length / cols)}, minmax(0, 1fr))` }}>
          {items.map((r, i) => (
            <div
              key={r.id}
              className={`compare-tile${i === focus ? ' focused' : ''}`}
              data-testid="compare-tile"
              data-id={r.id}
              data-focused={i === focus}
              onPointerDown={() => s.setFocus(i)}
            >
              <ImageStage src={r.imageUrl} width={r.width} height={r.height} view={s.view} onView={s.setView} alt={r.prompt} {...loupeProps} />
              {s.showLabels && <Label labels={labels[i]!} />}
              <TileFooter r={r} />
            </div>
          ))}
        </div>
      )}
    </section>
  );
}
