/**
 * The left panel's LoRA picker: lists the installed LoRAs (listLoras), adds `<lora:name:1>` to the
 * prompt, and edits the weight of each LoRA the prompt already names. The prompt text stays the one
 * source of truth: the picker only rewrites tags (renderer/lib/lora-tags.ts), so typing a tag by
 * hand and using the picker give the same result.
 */
import { useEffect, useMemo, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { LORA_BASE_LABELS, loraBaseMismatch } from '../../common/lora-base';
import { insertLoraTag, LORA_WEIGHT_MAX, LORA_WEIGHT_MIN, LORA_WEIGHT_STEP, promptLoras, removeLoraTag, setLoraWeight } from '../lib/lora-tags';
import { useAtelier } from '../state/store';
import { formatBytes } from './hooks';
import { SliderRow } from './SliderRow';

// Inline: the picker's few layout rules live with it (styles.css is shared by every panel).
const LIST_STYLE = { listStyle: 'none', margin: '6px 0 0', padding: 0 } as const;
const ITEM_STYLE = { display: 'flex', flexWrap: 'wrap', gap: 6, alignItems: 'center', marginBottom: 4 } as const;
const NUMBER_STYLE = { width: 64 } as const;

export function LoraPicker() {
  const { loras, lorasError, refreshLoras, prompt, modelsDir, setParams, modelFamily } = useAtelier(
    useShallow((s) => ({
      modelFamily: s.models.find((m) => m.id === s.params.modelId)?.family,
      loras: s.loras,
      lorasError: s.lorasError,
      refreshLoras: s.refreshLoras,
      prompt: s.params.prompt,
      modelsDir: s.settings?.modelsDir ?? null,
      setParams: s.setParams,
    })),
  );
  const [choice, setChoice] = useState('');
  useEffect(() => {
    void refreshLoras();
  }, [refreshLoras]);
  const inPrompt = useMemo(() => promptLoras(prompt), [prompt]);
  const installed = loras ?? [];
  const named = new Set(inPrompt.map((l) => l.name));
  const addable = installed.filter((l) => !named.has(l.name));
  const selected = addable.some((l) => l.name === choice) ? choice : (addable[0]?.name ?? '');

  const add = () => {
    if (!selected) return;
    setParams({ prompt: insertLoraTag(prompt, selected, 1) });
    setChoice('');
  };
  const setWeight = (name: string, weight: number) => {
    if (Number.isFinite(weight)) setParams({ prompt: setLoraWeight(prompt, name, weight) });
  };

  return (
    <div className="field lora-picker" data-testid="lora-picker">
      <div className="field-head">
        <label htmlFor="lora-add">LoRA</label>
      </div>
      {installed.length > 0 && (
        <div className="row">
          <select id="lora-add" data-testid="lora-add" value={selected} disabled={addable.length === 0} onFocus={() => void refreshLoras()} onChange={(e) => setChoice(e.target.value)}>
            {addable.length === 0 && <option value="">All installed LoRAs are in the prompt</option>}
            {addable.map((l) => (
              <option key={l.name} value={l.name}>
                {l.name}
                {l.baseFamily ? ` · ${LORA_BASE_LABELS[l.baseFamily]}` : ''}
                {l.rank !== undefined ? ` · rank ${l.rank}` : ''} · {formatBytes(l.sizeBytes)}
                {loraBaseMismatch(l.baseFamily, modelFamily) ? ' · not for this model' : ''}
              </option>
            ))}
          </select>
          <button type="button" data-testid="lora-insert" disabled={!selected} onClick={add} title="Add <lora:name:1> to the prompt">
            Add
          </button>
        </div>
      )}
      {loras !== null && installed.length === 0 && !lorasError && (
        <div className="hint" data-testid="no-loras">
          No LoRAs installed: put .safetensors LoRA files into {modelsDir ? <code>{`${modelsDir}/loras`}</code> : 'the loras folder of your models folder'}.
        </div>
      )}
      {lorasError && (
        <div className="hint warn" role="alert" data-testid="loras-error">
          Could not list LoRAs: {lorasError}
        </div>
      )}
      {inPrompt.length > 0 && (
        <ul className="lora-list" style={LIST_STYLE} aria-label="LoRAs in the prompt" data-testid="prompt-loras">
          {inPrompt.map((l, i) => {
            const id = `lora-weight-${i}`;
            const entry = installed.find((x) => x.name === l.name);
            const missing = loras !== null && !entry;
            const mismatch = entry ? loraBaseMismatch(entry.baseFamily, modelFamily) : null;
            return (
              <li key={l.name} style={ITEM_STYLE} data-testid="prompt-lora" data-name={l.name}>
                <SliderRow
                  id={id}
                  label={l.name}
                  data-testid="lora-weight-slider"
                  min={LORA_WEIGHT_MIN}
                  max={LORA_WEIGHT_MAX}
                  step={LORA_WEIGHT_STEP}
                  value={l.weight}
                  onValue={(v) => setWeight(l.name, v)}
                  numberField={{ 'aria-label': `${l.name} weight`, 'data-testid': 'lora-weight', style: NUMBER_STYLE }}
                />
                <button type="button" aria-label={`Remove ${l.name} from the prompt`} data-testid="lora-remove" onClick={() => setParams({ prompt: removeLoraTag(prompt, l.name) })}>
                  ×
                </button>
                {mismatch && (
                  <div className="hint warn" data-testid="lora-family-mismatch">
                    {l.name} is {mismatch}: Generate will refuse it (none of its weights fit). Pick a matching model or remove it.
                  </div>
                )}
                {missing && (
                  <div className="hint warn" data-testid="lora-missing">
                    Not installed: Generate will refuse the prompt until {l.name}.safetensors is in the loras folder.
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
