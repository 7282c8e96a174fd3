/**
 * The execution providers Atelier knows, declared once. The API schema, the engine's provider
 * preference, the model catalog and the worker protocol all derive their names from this table.
 * Pure: imported by both sides.
 */
export const EXECUTION_PROVIDERS = Object.freeze([
  { name: 'cuda', label: 'CUDA', vendor: 'NVIDIA', platforms: ['linux'] },
  { name: 'dml', label: 'DirectML', vendor: 'any DirectX 12 GPU', platforms: ['win32'] },
  { name: 'coreml', label: 'CoreML', vendor: 'Apple', platforms: ['darwin'] },
  { name: 'webgpu', label: 'WebGPU', vendor: 'AMD, Intel, NVIDIA', platforms: ['linux', 'win32', 'darwin'] },
  { name: 'cpu', label: 'CPU', vendor: 'any', platforms: ['linux', 'win32', 'darwin'] },
] as const);

export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number]['name'];

/** Names in the order "auto" tries them (fastest first, CPU last). */
export const PROVIDER_NAMES = Object.freeze(EXECUTION_PROVIDERS.map((p) => p.name)) as readonly ExecutionProviderName[] & { 0: ExecutionProviderName };

/** What a user may choose: a provider, or 'auto'. */
export const PROVIDER_CHOICES = Object.freeze(['auto', ...PROVIDER_NAMES] as const) as readonly ['auto', ...ExecutionProviderName[]];
export type ProviderChoiceName = 'auto' | ExecutionProviderName;

export function providerLabel(name: string): string {
  return EXECUTION_PROVIDERS.find((p) => p.name === name)?.label ?? name;
}

export function isExecutionProviderName(name: string): name is ExecutionProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(name);
}

/** Validates a provider choice typed by a person (CLI flag, config file); case-insensitive, default 'auto'. */
export function parseProviderChoiceName(value: string | undefined): ProviderChoiceName {
  const v = (value ?? 'auto').toLowerCase();
  if ((PROVIDER_CHOICES as readonly string[]).includes(v)) return v as ProviderChoiceName;
  throw new Error(`Unknown execution provider "${value}". Valid: ${PROVIDER_CHOICES.join(', ')}.`);
}
