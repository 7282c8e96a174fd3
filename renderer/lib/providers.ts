/**
 * Whether each execution provider can actually run here: the one answer shared by the header's
 * chips and the model panel. ONNX Runtime lists the providers its build contains (CUDA and WebGPU
 * appear even without an NVIDIA driver or Vulkan); only a model load shows whether one works, and
 * the reason a provider was skipped is the one the load recorded.
 */
import type { LoadedModelInfo } from '../../common/api/contract';

export type ProviderState = 'in-use' | 'available' | 'unavailable' | 'unchecked';

export interface ProviderStatus {
  name: string;
  state: ProviderState;
  /** One sentence for a tooltip; for 'unavailable', the load's own reason. */
  reason: string;
}

/** The provider can run models here (it runs one now, or it is the always-present CPU). */
export function canRun(s: ProviderStatus): boolean {
  return s.state === 'in-use' || s.state === 'available';
}

/** Providers that could not run, with the reason the load gave (first one per provider). */
export function skippedProviders(loaded: Pick<LoadedModelInfo, 'fallbacks'> | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of loaded?.fallbacks ?? []) if (!out.has(f.provider)) out.set(f.provider, f.reason);
  return out;
}

export function providerStatus(name: string, loaded: Pick<LoadedModelInfo, 'provider' | 'fallbacks'> | null, loading = false): ProviderStatus {
  const skipped = skippedProviders(loaded).get(name);
  if (skipped !== undefined) return { name, state: 'unavailable', reason: skipped };
  if (loaded?.provider === name) return { name, state: 'in-use', reason: `runs the loaded model` };
  if (name === 'cpu') return { name, state: 'available', reason: 'always available (ships with Atelier)' };
  return {
    name,
    state: 'unchecked',
    reason: loading ? 'being checked while the model loads' : loaded ? 'not tried by the last model load' : 'not checked yet: known once a model loads',
  };
}

/** Every provider ONNX Runtime lists, in its order, with what the last model load showed. */
export function providerStatuses(
  eps: readonly { name: string }[] | undefined,
  loaded: Pick<LoadedModelInfo, 'provider' | 'fallbacks'> | null,
  loading = false,
): ProviderStatus[] {
  return (eps ?? []).map((ep) => providerStatus(ep.name, loaded, loading));
}
