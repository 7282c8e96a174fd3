import { Fragment, useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { GenerationRecord } from '../../common/api/contract';
import { edgeLabel } from '../lib/param-diff';
import { useAtelier } from '../state/store';

function Node({ r, current, onOpen }: { r: GenerationRecord; current?: boolean; onOpen(id: string): void }) {
  return (
    <button
      type="button"
      className={`lineage-node${current ? ' current' : ''}`}
      data-testid="lineage-node"
      data-id={r.id}
      data-current={!!current}
      title={`${r.prompt}\nseed ${r.seed}${r.strength != null ? ` · strength ${r.strength}` : ''}`}
      data-strength={r.strength ?? ''}
      onClick={() => onOpen(r.id)}
    >
      <img src={r.thumbUrl} alt="" />
    </button>
  );
}

/** Ancestors → this image → its children, each edge labelled with what changed. */
export function LineageStrip({ record }: { record: GenerationRecord }) {
  const { lineage, load, view } = useAtelier(useShallow((s) => ({ lineage: s.lineage, load: s.loadLineage, view: s.view })));
  useEffect(() => {
    void load(record.id);
  }, [record.id, record.parentId, load]);
  const ready = lineage?.id === record.id;
  const chain = ready ? [...lineage.ancestors, record] : [record];
  return (
    <div className="lineage" data-testid="lineage" data-ready={ready} data-ancestors={ready ? lineage.ancestors.length : ''} data-children={ready ? lineage.children.length : ''} data-no-pan>
      <div className="lineage-chain">
        {chain.map((r, i) => (
          <Fragment key={r.id}>
            {i > 0 && (
              <span className="lineage-edge" data-testid="lineage-edge">
                {edgeLabel(chain[i - 1]!, r)} →
              </span>
            )}
            <Node r={r} current={r.id === record.id} onOpen={view} />
          </Fragment>
        ))}
        {ready && lineage.children.length > 0 && (
          <div className="lineage-children">
            {lineage.children.map((c) => (
              <div key={c.id} className="lineage-child">
                <span className="lineage-edge" data-testid="lineage-edge">
                  → {edgeLabel(record, c)}
                </span>
                <Node r={c} onOpen={view} />
              </div>
            ))}
          </div>
        )}
        {ready && chain.length === 1 && lineage.children.length === 0 && (
          <span className="muted small">No parent or variants yet — use Vary or the variant explorer to branch from this image.</span>
        )}
      </div>
    </div>
  );
}
