import { describe, expect, it } from 'vitest';
import { canRun, providerStatuses } from '../../renderer/lib/providers';

const eps = [
  { name: 'cuda', bundled: false },
  { name: 'webgpu', bundled: true },
  { name: 'cpu', bundled: true },
];
const cudaWhy = 'CUDA provider not installed (npm install fetches it online on machines with an NVIDIA GPU)';
const webgpuWhy = 'WebGPU needs Vulkan (libvulkan.so.1 not found)';

describe('execution provider status (header chips and model panel)', () => {
  it('does not call a provider available just because ONNX Runtime lists it', () => {
    const before = providerStatuses(eps, null);
    expect(before.map((p) => [p.name, p.state])).toEqual([
      ['cuda', 'unchecked'],
      ['webgpu', 'unchecked'],
      ['cpu', 'available'],
    ]);
    expect(before.filter(canRun).map((p) => p.name)).toEqual(['cpu']);
    expect(providerStatuses(eps, null, true)[0]!.reason).toMatch(/being checked/);
  });

  it('marks providers the model load skipped as unavailable, with the load’s own reason', () => {
    const loaded = {
      provider: 'cpu',
      fallbacks: [
        { provider: 'cuda', reason: cudaWhy },
        { provider: 'webgpu', reason: webgpuWhy },
        { provider: 'cuda', reason: 'a later component, same cause' },
      ],
    };
    expect(providerStatuses(eps, loaded)).toEqual([
      { name: 'cuda', state: 'unavailable', reason: cudaWhy },
      { name: 'webgpu', state: 'unavailable', reason: webgpuWhy },
      { name: 'cpu', state: 'in-use', reason: 'runs the loaded model' },
    ]);
  });

  it('calls the provider running the model in use, and leaves untried ones unchecked', () => {
    const s = providerStatuses(eps, { provider: 'cuda', fallbacks: [] });
    expect(s.map((p) => [p.name, p.state, canRun(p)])).toEqual([
      ['cuda', 'in-use', true],
      ['webgpu', 'unchecked', false],
      ['cpu', 'available', true],
    ]);
  });
});
