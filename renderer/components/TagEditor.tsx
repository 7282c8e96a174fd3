import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { addTag } from '../state/boards-slice';
import { useAtelier } from '../state/store';

/**
 * Tags of a multi-selection: every tag any selected image has, with how many carry it. Enter adds
 * a tag to all of them; ✕ removes it from all of them; a click filters by it.
 */
function SelectionTags({ ids }: { ids: string[] }) {
  const { records, tagMany, filter, setFilter } = useAtelier(
    useShallow((s) => ({ records: s.records, tagMany: s.tagGenerations, filter: s.historyFilter, setFilter: s.setHistoryFilter })),
  );
  const [draft, setDraft] = useState('');
  const counts = new Map<string, { name: string; n: number }>();
  for (const id of ids) {
    for (const t of records[id]?.tags ?? []) {
      const c = counts.get(t.toLowerCase()) ?? { name: t, n: 0 };
      c.n++;
      counts.set(t.toLowerCase(), c);
    }
  }
  const tags = [...counts.values()].sort((a, b) => a.name.localeCompare(b.name));
  const commit = () => {
    const t = draft.trim();
    setDraft('');
    if (t) void tagMany(ids, [t], []);
  };
  return (
    <section className="tag-editor" data-testid="tag-editor" data-mode="multi" data-count={ids.length} data-tags={tags.map((t) => t.name).join(',')}>
      <div className="section-head">
        <span>Tags of {ids.length} selected</span>
      </div>
      <div className="tag-chips">
        {tags.map((t) => (
          <span key={t.name} className={`chip tag${filter.tag === t.name ? ' active' : ''}`} data-testid="tag-chip" data-tag={t.name} data-on={t.n}>
            <button type="button" className="tag-filter" data-testid="tag-filter" title={`Show only images tagged “${t.name}”`} onClick={() => void setFilter({ ...filter, tag: t.name })}>
              {t.name} <span className="muted">{t.n === ids.length ? 'all' : `${t.n}/${ids.length}`}</span>
            </button>
            <button type="button" className="tag-remove" data-testid="tag-remove" aria-label={`Remove tag ${t.name} from the ${ids.length} selected images`} title="Remove from every selected image" onClick={() => void tagMany(ids, [], [t.name])}>
              ✕
            </button>
          </span>
        ))}
        <input
          className="tag-input"
          data-testid="tag-input"
          aria-label={`Add a tag to the ${ids.length} selected images`}
          placeholder={`Tag all ${ids.length} (Enter)`}
          value={draft}
          maxLength={100}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' || e.key === ',') {
              e.preventDefault();
              commit();
            }
          }}
        />
      </div>
    </section>
  );
}

/** Tags of the image in the viewer (or of the whole multi-selection): add (Enter), remove (✕ or Backspace in the empty field), filter by one. */
export function TagEditor() {
  const { record, setTags, filter, setFilter, selection } = useAtelier(
    useShallow((s) => ({ record: s.viewingId ? s.records[s.viewingId] : undefined, setTags: s.setTags, filter: s.historyFilter, setFilter: s.setHistoryFilter, selection: s.selection })),
  );
  const [draft, setDraft] = useState('');
  if (selection.length > 1) return <SelectionTags ids={selection} />;
  if (!record) {
    return (
      <section className="tag-editor" data-testid="tag-editor">
        <div className="section-head">
          <span>Tags</span>
        </div>
        <div className="empty small">Select an image to tag it.</div>
      </section>
    );
  }
  const commit = () => {
    const next = addTag(record.tags, draft);
    setDraft('');
    if (next !== record.tags) void setTags(record.id, next);
  };
  return (
    <section className="tag-editor" data-testid="tag-editor" data-id={record.id} data-tags={record.tags.join(',')}>
      <div className="section-head">
        <span>Tags</span>
      </div>
      <div className="tag-chips">
        {record.tags.map((t) => (
          <span key={t} className={`chip tag${filter.tag === t ? ' active' : ''}`} data-testid="tag-chip" data-tag={t}>
            <button type="button" className="tag-filter" data-testid="tag-filter" title={`Show only images tagged “${t}”`} onClick={() => void setFilter({ ...filter, tag: t })}>
              {t}
            </button>
            <button type="button" className="tag-remove" data-testid="tag-remove" aria-label={`Remove tag ${t}`} title="Remove tag" onClick={() => void setTags(record.id, record.tags.filter((x) => x !== t))}>
              ✕
            </button>
          </span>
        ))}
        <input
          className="tag-input"
          data-testid="tag-input"
          aria-label="Add a tag"
          placeholder={record.tags.length ? 'Add…' : 'Add a tag (Enter)'}
          value={draft}
          maxLength={100}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' || e.key === ',') {
              e.preventDefault();
              commit();
            } else if (e.key === 'Backspace' && !draft && record.tags.length > 0) {
              void setTags(record.id, record.tags.slice(0, -1));
            }
          }}
        />
      </div>
    </section>
  );
}
