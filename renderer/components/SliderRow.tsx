/**
 * A labelled slider: `<label for>`, a range input and, when asked, a number field beside it for
 * typing the value exactly. Rendered as siblings (a fragment) so the caller's row keeps its own box
 * and layout rules (ControlNet rows, LoRA list items) and may hold more than one slider.
 */
import type { InputHTMLAttributes, ReactNode } from 'react';

/** What the caller sets on an input beyond the value: data-testid, aria-label, aria-valuetext, style… */
type InputAttributes = Omit<InputHTMLAttributes<HTMLInputElement>, 'type' | 'id' | 'value' | 'onChange' | 'min' | 'max' | 'step'> & { 'data-testid'?: string };

export interface SliderRowProps extends InputAttributes {
  /** The range input's id, which the label names. */
  id: string;
  label: ReactNode;
  value: number;
  min: number;
  max: number;
  step: number;
  /** The input's `valueAsNumber`, NaN included: the caller decides what a cleared number field means. */
  onValue(value: number): void;
  /**
   * A number field after the slider, for values typed exactly (shares `step` and `onValue`). It shows
   * `value` as is, so a typed value beyond the slider's range stays visible; give it `min`/`max` to bound it.
   */
  numberField?: InputAttributes & Pick<InputHTMLAttributes<HTMLInputElement>, 'min' | 'max'>;
}

export function SliderRow({ id, label, value, min, max, step, onValue, numberField, ...rangeAttributes }: SliderRowProps) {
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <input
        {...rangeAttributes}
        id={id}
        type="range"
        min={min}
        max={max}
        step={step}
        // The thumb stops at the ends when the value (typed, or from a prompt tag) lies beyond them.
        value={Math.min(max, Math.max(min, value))}
        onChange={(e) => onValue(e.currentTarget.valueAsNumber)}
      />
      {numberField && <input {...numberField} type="number" step={step} value={value} onChange={(e) => onValue(e.currentTarget.valueAsNumber)} />}
    </>
  );
}
