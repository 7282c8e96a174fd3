/**
 * Which execution providers (and which GPU indices) can actually run on this machine: cheap checks
 * for runtimes that are certainly absent (CUDA libraries, Vulkan), a per-process memory of providers
 * whose native runtime failed to initialise, and one-node Identity probes. Separate from
 * ort-backend.ts so the policy stays readable on its own and never imports onnxruntime-node:
 * ort-backend hands in what it needs from the runtime (`OrtProbeAccess`) through
 * `createProviderProbes`, and re-exports the functions it returns.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CreateSessionOptions, ExecutionProviderInfo, ProviderName } from './engine-session';

/** What the probes need from the loaded runtime (ort-backend supplies it). */
export interface OrtProbeAccess {
  /** Null when ONNX Runtime loaded; otherwise why it is not available. */
  unavailable(): string | null;
  /** Providers this build reports, in order of preference. */
  listExecutionProviders(): ExecutionProviderInfo[];
  /** Creates, then releases, a one-node Identity session on `provider`; rejects with the runtime's error. */
  openIdentitySession(provider: ProviderName, opts?: CreateSessionOptions): Promise<void>;
  /** The folder holding ORT's native libraries for this platform, or null when it cannot be found. */
  binaryDir(): string | null;
}

export interface GpuDeviceProbe {
  provider: ProviderName;
  /** false: the provider cannot run here at all; `reason` says why and no index was tried. */
  available: boolean;
  reason?: string;
  devices: { deviceId: number; ok: boolean; reason?: string }[];
}

export interface ProviderProbes {
  /**
   * Whether a provider can create a session on this machine: the build must report it, its runtime
   * must be present (CUDA libraries, Vulkan), and a one-node Identity graph must load on it (catches
   * "no WebGPU adapter", a CUDA driver mismatch…). Tried once per process.
   */
  probeProvider(provider: ProviderName): Promise<{ ok: boolean; reason?: string }>;
  /**
   * The checks `probeProvider` makes before creating anything: reported by the build, runtime files
   * present, not already failed in this process. Creates no session (no CUDA context, no Dawn device),
   * so it is what long-lived processes that do not run models (the API side) should use.
   */
  providerLooksUsable(provider: ProviderName): { ok: boolean; reason?: string };
  /** The provider `auto` ends up on here: the first in preference order whose probe succeeds (cpu at worst). */
  autoProvider(): Promise<ProviderName>;
  /**
   * Which GPU indices a CUDA or DirectML session can start on. onnxruntime-node cannot enumerate
   * DXGI adapters or CUDA devices, so each index 0..count-1 gets a one-node Identity session (the
   * provider is created, and fails, per device: an index with no GPU behind it is refused there).
   * Failures here never mark the provider unusable: only that index is.
   */
  probeGpuDevices(provider: ProviderName, count?: number): Promise<GpuDeviceProbe>;
  /** Forget cached provider-initialisation failures (tests, or after the user installs CUDA). */
  resetProviderCache(): void;
  /** Why `provider` certainly cannot start a session now (failed before in this process, runtime absent), else undefined. */
  knownProblem(provider: ProviderName): string | undefined;
  /** Records a session-creation failure: one that says the provider's runtime cannot initialise marks it unusable. */
  noteCreateFailure(provider: ProviderName, reason: string): void;
}

const NOT_IN_BUILD = 'not available in this onnxruntime-node build';
const PROVIDER_INIT_FAILURE = /failed to load shared library|backend not found|no available backend|failed to get a webgpu adapter|cuda driver|libcud/i;

/** An ORT error message as one readable line (its source-path prefix kept, whitespace folded, capped). */
export function firstLine(msg: string): string {
  // ORT errors carry the source path prefix; keep the human part, trimmed.
  const m = msg.replace(/\s+/g, ' ').trim();
  return m.length > 500 ? `${m.slice(0, 500)}…` : m;
}

function reasonOf(err: unknown): string {
  return firstLine(err instanceof Error ? err.message : String(err));
}

/** The GPU index a session on `provider` runs on: `deviceId` (default 0) for CUDA and DirectML, undefined for the rest. */
export function deviceIdUsed(provider: string, deviceId: number | undefined): number | undefined {
  return provider === 'cuda' || provider === 'dml' ? (deviceId ?? 0) : undefined;
}

/**
 * Cheap up-front checks for provider runtimes that are certainly absent, so `auto` does not pay
 * (and print) a failed native initialisation for them: the CUDA provider library is downloaded at
 * install time only on machines with an NVIDIA GPU; Dawn's WebGPU on Linux needs Vulkan.
 */
function missingRuntime(provider: ProviderName, binaryDir: () => string | null): string | undefined {
  if (provider === 'cuda' && process.platform === 'linux') {
    const binDir = binaryDir();
    if (binDir && !existsSync(join(binDir, 'libonnxruntime_providers_cuda.so'))) {
      return 'CUDA provider not installed (npm install fetches it online on machines with an NVIDIA GPU)';
    }
  }
  if (provider === 'webgpu' && process.platform === 'linux') {
    const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64'];
    if (!dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')))) return 'WebGPU needs Vulkan (libvulkan.so.1 not found)';
  }
  return undefined;
}

/** The provider probes of one process, over the runtime `ort` gives access to. */
export function createProviderProbes(ort: OrtProbeAccess): ProviderProbes {
  /** Providers whose native runtime failed to initialise in this process (library missing, no adapter). */
  const unusable = new Map<ProviderName, string>();
  const probes = new Map<ProviderName, Promise<{ ok: boolean; reason?: string }>>();

  const knownProblem = (provider: ProviderName): string | undefined => unusable.get(provider) ?? missingRuntime(provider, ort.binaryDir);

  const providerLooksUsable = (provider: ProviderName): { ok: boolean; reason?: string } => {
    const problem = ort.unavailable();
    if (problem !== null) return { ok: false, reason: problem };
    if (!ort.listExecutionProviders().some((x) => x.name === provider)) return { ok: false, reason: NOT_IN_BUILD };
    const known = knownProblem(provider);
    return known ? { ok: false, reason: known } : { ok: true };
  };

  const probeProvider = (provider: ProviderName): Promise<{ ok: boolean; reason?: string }> => {
    let p = probes.get(provider);
    if (!p) {
      p = (async () => {
        const usable = providerLooksUsable(provider);
        if (!usable.ok) return usable;
        try {
          await ort.openIdentitySession(provider);
          return { ok: true };
        } catch (err) {
          const reason = reasonOf(err);
          if (provider !== 'cpu') unusable.set(provider, reason);
          return { ok: false, reason };
        }
      })();
      probes.set(provider, p);
    }
    return p;
  };

  return {
    probeProvider,
    providerLooksUsable,
    knownProblem,
    async autoProvider(): Promise<ProviderName> {
      for (const p of ort.listExecutionProviders()) if ((await probeProvider(p.name)).ok) return p.name;
      return 'cpu';
    },
    async probeGpuDevices(provider: ProviderName, count = 8): Promise<GpuDeviceProbe> {
      if (provider !== 'cuda' && provider !== 'dml') {
        return { provider, available: false, reason: `${provider} chooses its device itself; a GPU index applies to CUDA and DirectML only`, devices: [] };
      }
      const usable = providerLooksUsable(provider);
      if (!usable.ok) return { provider, available: false, reason: `${provider} is not available here: ${usable.reason}`, devices: [] };
      const devices: GpuDeviceProbe['devices'] = [];
      for (let deviceId = 0; deviceId < count; deviceId++) {
        try {
          await ort.openIdentitySession(provider, { deviceId });
          devices.push({ deviceId, ok: true });
        } catch (err) {
          devices.push({ deviceId, ok: false, reason: reasonOf(err) });
        }
      }
      return { provider, available: true, devices };
    },
    resetProviderCache(): void {
      unusable.clear();
      probes.clear();
    },
    noteCreateFailure(provider: ProviderName, reason: string): void {
      // A provider whose runtime cannot initialise at all fails the same way for every model: remember it.
      if (provider !== 'cpu' && PROVIDER_INIT_FAILURE.test(reason)) unusable.set(provider, reason);
    },
  };
}
