import { useLayoutEffect, useRef, type KeyboardEvent } from 'react';
import { adjustWeight, highlightPrompt, WEIGHT_STEP, type TextEdit } from '../lib/prompt-weight';
import { CHUNK_TOKENS, chunkCounts } from '../lib/tokens';

interface Props {
  id: string;
  label: string;
  value: string;
  placeholder: string;
  onChange(value: string): void;
  testId: string;
  rows?: number;
}

/**
 * A textarea over a highlighted mirror of its text (weights, parens, BREAK), with the approximate
 * token count per 75-token chunk and Ctrl/Cmd+Up/Down to step the weight of the selection.
 */
export function PromptEditor({ id, label, value, placeholder, onChange, testId, rows = 4 }: Props) {
  const ta = useRef<HTMLTextAreaElement>(null);
  const mirror = useRef<HTMLDivElement>(null);
  const counts = chunkCounts(value);
  const tokens = counts.reduce((a, b) => a + b, 0);
  // Selection to restore once React has committed the new text (before the next key is handled,
  // so fast repeated presses keep acting on the same span).
  const pending = useRef<TextEdit | null>(null);
  useLayoutEffect(() => {
    const edit = pending.current;
    if (!edit) return;
    if (ta.current && value === edit.text) ta.current.setSelectionRange(edit.selectionStart, edit.selectionEnd);
    pending.current = null;
  }, [value]);

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (!(e.ctrlKey || e.metaKey) || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return;
    e.preventDefault();
    const el = e.currentTarget;
    // If the previous step has not been committed yet, keep stepping from it.
    const base = pending.current ?? { text: el.value, selectionStart: el.selectionStart, selectionEnd: el.selectionEnd };
    const next = adjustWeight(base, e.key === 'ArrowUp' ? WEIGHT_STEP : -WEIGHT_STEP);
    if (next.text === base.text) return;
    pending.current = next;
    onChange(next.text);
  };

  return (
    <div className="field prompt-field">
      <div className="field-head">
        <label htmlFor={id}>{label}</label>
        <span
          className={counts.length > 1 ? 'token-count multi' : 'token-count'}
          data-testid={`${testId}-tokens`}
          data-chunks={counts.join(',')}
          title={`Approximate CLIP tokens; prompts are encoded in chunks of ${CHUNK_TOKENS} (BREAK starts a new chunk)${counts.length > 1 ? `\nPer chunk: ${counts.map((c, i) => `#${i + 1} ${c}/${CHUNK_TOKENS}`).join(', ')}` : ''}`}
        >
          {tokens}/{counts.length * CHUNK_TOKENS}
          {counts.length > 1 ? ` · ${counts.join(' + ')}` : ''}
        </span>
      </div>
      <div className="prompt-box">
        <div className="prompt-mirror" ref={mirror} aria-hidden="true">
          {highlightPrompt(value).map((s, i) => (
            <span key={i} className={`hl-${s.kind}`}>
              {s.text}
            </span>
          ))}
          {'\n'}
        </div>
        <textarea
          id={id}
          ref={ta}
          data-testid={testId}
          rows={rows}
          value={value}
          spellCheck={false}
          placeholder={placeholder}
          title="Ctrl/Cmd+↑/↓ raises/lowers the weight of the selection · Ctrl/Cmd+Enter generates"
          onChange={(e) => {
            pending.current = null;
            onChange(e.target.value);
          }}
          onKeyDown={onKeyDown}
          onScroll={(e) => {
            if (mirror.current) mirror.current.scrollTop = e.currentTarget.scrollTop;
          }}
        />
      </div>
    </div>
  );
}
