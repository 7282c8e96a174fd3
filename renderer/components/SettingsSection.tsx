/**
 * Engine settings shown in the Models view: the live-preview decoder, low-memory loading and the
 * GPU CUDA/DirectML run on. All machine-wide (settings.json beside the project list), not per project.
 */
import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { GpuProbeReport } from '../../common/api/contract';
import { GPU_DEVICE_ID_MAX, type Settings } from '../../common/api/schemas';
import { useAtelier } from '../state/store';
import { describeError } from '../lib/errors';

type PreviewDecoder = NonNullable<Settings['previewDecoder']>;

const PREVIEW_DECODERS: ReadonlyArray<{ value: PreviewDecoder; label: string; explain: string }> = [
  {
    value: 'auto',
    label: 'Auto',
    explain: 'TAESD when a decoder matching the model is installed, spaced to cost at most about a quarter of the generation time; the approximation in low-memory mode.',
  },
  { value: 'taesd', label: 'TAESD', explain: 'Decode every preview with the installed TAESD decoder: sharpest previews, slower steps.' },
  { value: 'approx', label: 'Approximation', explain: 'Linear latent-to-colour approximation: free, but blurry and off in colour.' },
];

/** The providers whose GPU is chosen by index (ORT's `deviceId`). */
const INDEXED_GPU_PROVIDERS = ['cuda', 'dml'];

/**
 * The GPU index for CUDA/DirectML. onnxruntime-node cannot list DXGI adapters or CUDA devices, so
 * "Probe" asks the engine to start a tiny session on each index and lists which ones work.
 */
function GpuDeviceField({ settings }: { settings: Settings }) {
  const { update, probe, eps } = useAtelier(useShallow((s) => ({ update: s.updateSettings, probe: s.probeGpuDevices, eps: s.systemInfo?.executionProviders })));
  const [report, setReport] = useState<GpuProbeReport | { error: string } | null>(null);
  const [probing, setProbing] = useState(false);
  const [draft, setDraft] = useState<string | null>(null);
  const reported = (eps ?? []).map((p) => p.name).filter((n) => INDEXED_GPU_PROVIDERS.includes(n));
  const shown = INDEXED_GPU_PROVIDERS.includes(settings.provider) || (settings.provider === 'auto' && reported.length > 0);
  if (!shown) return null;
  const value = draft ?? String(settings.gpuDeviceId ?? 0);
  const parsed = Number(value);
  const invalid = !/^\d+$/.test(value) || parsed > GPU_DEVICE_ID_MAX ? `A GPU index is a whole number from 0 to ${GPU_DEVICE_ID_MAX} (0 is the first GPU).` : null;
  const runProbe = async () => {
    setProbing(true);
    try {
      setReport(await probe());
    } catch (err) {
      setReport({ error: describeError(err) });
    } finally {
      setProbing(false);
    }
  };
  return (
    <div className="field" data-testid="gpu-device">
      <label htmlFor="gpu-device-id">GPU ({settings.provider === 'auto' ? reported.join(' / ') : settings.provider})</label>
      <div className="row">
        <input
          id="gpu-device-id"
          data-testid="gpu-device-id"
          inputMode="numeric"
          value={value}
          aria-invalid={invalid !== null}
          onChange={(e) => setDraft(e.target.value)}
          onBlur={() => {
            if (draft !== null && !invalid && parsed !== (settings.gpuDeviceId ?? 0)) void update({ gpuDeviceId: parsed });
            if (!invalid) setDraft(null);
          }}
        />
        <button type="button" data-testid="gpu-probe" disabled={probing} onClick={() => void runProbe()} title="Start a tiny session on GPU indices 0–7 and list which ones work">
          {probing ? 'Probing…' : 'Probe'}
        </button>
      </div>
      {invalid && <div className="error-text small">{invalid}</div>}
      {report && <GpuProbeResult report={report} chosen={settings.gpuDeviceId ?? 0} onPick={(id) => void update({ gpuDeviceId: id })} />}
      <div className="muted small">
        Index of the GPU CUDA or DirectML runs on (DirectML: the DXGI adapter; 0 is the system default, often the integrated GPU on laptops). Recorded with
        each generation. Takes effect the next time a model loads.
      </div>
    </div>
  );
}

function GpuProbeResult({ report, chosen, onPick }: { report: GpuProbeReport | { error: string }; chosen: number; onPick(id: number): void }) {
  if ('error' in report) return <div className="hint warn" data-testid="gpu-probe-result" data-available="false">{report.error}</div>;
  if (!report.available) {
    return (
      <div className="hint warn" data-testid="gpu-probe-result" data-available="false">
        {report.reason}
      </div>
    );
  }
  const working = report.devices.filter((d) => d.ok);
  return (
    <div className={working.length > 0 ? 'hint ok' : 'hint warn'} data-testid="gpu-probe-result" data-available="true" data-working={working.map((d) => d.deviceId).join(',')}>
      {working.length === 0 ? `No GPU index started a ${report.provider} session.` : `${report.provider}: ${working.length} GPU${working.length === 1 ? '' : 's'} answer.`}
      <ul className="validation-problems">
        {report.devices.map((d) => (
          <li key={d.deviceId} title={d.reason}>
            {d.ok ? (
              <button type="button" className="link" data-testid="gpu-pick" disabled={d.deviceId === chosen} onClick={() => onPick(d.deviceId)}>
                GPU {d.deviceId}: works{d.deviceId === chosen ? ' (chosen)' : ' — use it'}
              </button>
            ) : (
              <span className="muted">GPU {d.deviceId}: {d.reason ?? 'does not start'}</span>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function SettingsSection() {
  const { settings, update } = useAtelier(useShallow((s) => ({ settings: s.settings, update: s.updateSettings })));
  if (!settings) return null;
  const decoder = settings.previewDecoder ?? 'auto';
  const explained = PREVIEW_DECODERS.find((d) => d.value === decoder)!;
  return (
    <section data-testid="settings">
      <div className="section-head">Settings</div>
      <div className="field">
        <label htmlFor="preview-decoder">Live previews</label>
        <select id="preview-decoder" data-testid="preview-decoder" value={decoder} onChange={(e) => void update({ previewDecoder: e.target.value as PreviewDecoder })}>
          {PREVIEW_DECODERS.map((d) => (
            <option key={d.value} value={d.value} title={d.explain}>
              {d.label}
            </option>
          ))}
        </select>
        <div className="muted small" data-testid="preview-decoder-help">
          {explained.explain} A TAESD decoder comes from the catalog above (taesd for SD 1.x/2.x).
        </div>
      </div>
      <GpuDeviceField settings={settings} />
      <div className="field">
        <label>
          <input type="checkbox" data-testid="low-memory" checked={settings.lowMemory} onChange={(e) => void update({ lowMemory: e.target.checked })} /> Low-memory mode
        </label>
        <div className="muted small">
          Loads the text encoder, UNet and VAE one at a time and releases each after use, and tiles the VAE decode above 512²: a lower peak for
          small GPUs and RAM, slower generations. Takes effect the next time a model loads (pick another model, or restart).
        </div>
      </div>
    </section>
  );
}
