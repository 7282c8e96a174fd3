import { describe, expect, it } from 'vitest';
import { loraBaseMismatch } from '../../common/lora-base';

describe('loraBaseMismatch: the studio warns before Generate when a LoRA is for another base model', () => {
  it('names both families when they differ', () => {
    expect(loraBaseMismatch('sdxl', 'sd1')).toBe('made for SDXL; the selected model is SD 1.x');
    expect(loraBaseMismatch('sd1', 'sdxl')).toBe('made for SD 1.x; the selected model is SDXL');
    expect(loraBaseMismatch('sd2', 'sd1')).toBe('made for SD 2.x; the selected model is SD 1.x');
  });

  it('says nothing when they fit, or when either side is unknown (never a false alarm)', () => {
    expect(loraBaseMismatch('sd1', 'sd1')).toBeNull();
    expect(loraBaseMismatch('sdxl', 'sdxl')).toBeNull();
    expect(loraBaseMismatch(null, 'sdxl')).toBeNull();
    expect(loraBaseMismatch('sdxl', 'demo')).toBeNull();
    expect(loraBaseMismatch('sdxl', 'unknown')).toBeNull();
    expect(loraBaseMismatch('sdxl', undefined)).toBeNull();
  });
});
