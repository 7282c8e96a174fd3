/**
 * Engine settings shown in the Models view: the live-preview decoder and low-memory loading.
 * Both are machine-wide (settings.json beside the project list), not per project.
 */
import { useShallow } from 'zustand/react/shallow';
import type { Settings } from '../../common/api/schemas';
import { useAtelier } from '../state/store';

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
