import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { addTag } from '../state/boards-slice';
import { useAtelier } from '../state/store';

/** Tags of the image in the viewer: add (Enter), remove (✕ or Backspace in the empty field), filter by one. */
export function TagEditor() {
  const { record, setTags, filter, setFilter } = useAtelier(
    useShallow((s) => ({ record: s.viewingId ? s.records[s.viewingId] : undefined, setTags: s.setTags, filter: s.historyFilter, setFilter: s.setHistoryFilter })),
  );
  const [draft, setDraft] = useState('');
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
