import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { SliderRow, type SliderRowProps } from '../../renderer/components/SliderRow';

/** The rendered label and inputs, each as its attribute map (React's static markup, real rendering). */
function render(props: SliderRowProps) {
  const html = renderToStaticMarkup(createElement(SliderRow, props));
  const attrs = (tag: string) => Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  const label = /<label([^>]*)>([^<]*)<\/label>/.exec(html);
  return {
    html,
    label: label ? { ...attrs(label[1]!), text: label[2]! } : null,
    inputs: [...html.matchAll(/<input([^>]*)\/>/g)].map((m) => attrs(m[1]!)),
  };
}

const ignore = () => undefined;

describe('SliderRow', () => {
  it('labels the range input by its id and passes its attributes through', () => {
    const { label, inputs } = render({
      id: 'control-1-start',
      label: 'Start',
      'data-testid': 'control-start',
      'aria-label': 'ControlNet 1 start',
      'aria-valuetext': '0.25, steps 2–8',
      min: 0,
      max: 1,
      step: 0.01,
      value: 0.25,
      onValue: ignore,
    });
    expect(label).toEqual({ for: 'control-1-start', text: 'Start' });
    expect(inputs).toEqual([
      { 'data-testid': 'control-start', 'aria-label': 'ControlNet 1 start', 'aria-valuetext': '0.25, steps 2–8', id: 'control-1-start', type: 'range', min: '0', max: '1', step: '0.01', value: '0.25' },
    ]);
  });

  it('stops the thumb at the ends while the number field shows the value as it is, with its own attributes', () => {
    const props = {
      id: 'lora-weight-0',
      label: 'style',
      'data-testid': 'lora-weight-slider',
      min: -1,
      max: 2,
      step: 0.05,
      onValue: ignore,
      numberField: { 'data-testid': 'lora-weight', 'aria-label': 'style weight', style: { width: 64 } },
    };
    const above = render({ ...props, value: 3.5 }).inputs;
    expect(above.map((i) => [i.type, i.value])).toEqual([
      ['range', '2'],
      ['number', '3.5'],
    ]);
    expect(render({ ...props, value: -4 }).inputs.map((i) => i.value)).toEqual(['-1', '-4']);
    // The number field shares the slider's step but is bounded only when asked.
    expect(above[1]).toEqual({ 'data-testid': 'lora-weight', 'aria-label': 'style weight', style: 'width:64px', type: 'number', step: '0.05', value: '3.5' });
    const bounded = render({ ...props, value: 1, numberField: { ...props.numberField, min: -1, max: 2 } }).inputs[1]!;
    expect([bounded.min, bounded.max]).toEqual(['-1', '2']);
  });
});
