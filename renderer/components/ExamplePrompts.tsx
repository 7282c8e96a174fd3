import { useShallow } from 'zustand/react/shallow';
import { DEMO_CAN_DRAW, DEMO_EXAMPLE_PROMPTS, isDemoModel } from '../lib/demo-prompts';
import { useAtelier } from '../state/store';

/**
 * The empty-history hint: what the selected demo model can draw and three prompts to try; a click
 * puts the prompt into the prompt box (Generate stays the user's choice). Other models get the
 * plain hint.
 */
export function EmptyHistoryHint() {
  const { demo, setParams } = useAtelier(
    useShallow((s) => ({
      demo: isDemoModel(s.models.find((m) => m.id === s.params.modelId)),
      setParams: s.setParams,
    })),
  );
  if (!demo) return <>Your generations land here. Generate something to start, or drop an image with A1111 metadata to reuse its settings.</>;
  return (
    <div className="demo-hint" data-testid="demo-hint">
      <div>Your generations land here. {DEMO_CAN_DRAW}</div>
      <div className="muted">Try one (click to put it in the prompt):</div>
      <div className="example-prompts">
        {DEMO_EXAMPLE_PROMPTS.map((p) => (
          <button
            key={p}
            type="button"
            className="example-prompt"
            data-testid="example-prompt"
            title="Put this prompt in the prompt box"
            onClick={() => {
              setParams({ prompt: p });
              document.getElementById('prompt')?.focus();
            }}
          >
            {p}
          </button>
        ))}
      </div>
    </div>
  );
}
