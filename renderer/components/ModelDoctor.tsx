import { useCallback, useEffect, useState } from 'react';
import { formatBytesShort, opLabel, type DoctorGraph, type DoctorLevel, type ModelDoctorReport } from '../../common/model-doctor';
import { EXECUTION_PROVIDERS } from '../../common/providers';
import { useAtelier } from '../state/store';
import { describeError } from '../state/ui-slice';
import type { DoctorModelParams } from '../state/types';

const LEVEL_MARK: Record<DoctorLevel, string> = { ok: '✓', warn: '!', fallback: '~', fails: '✗' };
const LEVEL_CLASS: Record<DoctorLevel, string> = { ok: 'hint ok', warn: 'hint warn', fallback: 'hint warn', fails: 'hint bad' };

function shape(s: DoctorGraph['inputs'][number]['shape']): string {
  return s === null ? '?' : `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

function GraphRow({ g, provider }: { g: DoctorGraph; provider: string }) {
  return (
    <details className="doctor-graph" data-testid="doctor-graph" data-component={g.component} data-level={g.verdict.level}>
      <summary>
        <strong>{g.component}</strong> <span className="chip">{g.precision}</span> <span className="chip">{g.staticInputs ? 'static shapes' : 'symbolic dims'}</span>{' '}
        <span className="muted small">
          {LEVEL_MARK[g.verdict.level]} {g.verdict.text}
        </span>
      </summary>
      <div className="small">
        <div className="muted">
          {g.file} · {formatBytesShort(g.fileBytes)}
          {g.externalData.map((e) => (
            <span key={e.file} className={e.ok ? '' : 'error-text'}>
              {' '}
              + {e.file} {formatBytesShort(e.bytes)}
              {e.ok ? '' : ' (missing or short)'}
            </span>
          ))}
        </div>
        <div>
          weights: fp16 {formatBytesShort(g.weights.fp16Bytes)}, fp32 {formatBytesShort(g.weights.fp32Bytes)}
          {g.weights.otherBytes ? `, other ${formatBytesShort(g.weights.otherBytes)}` : ''} · memory ≈ {formatBytesShort(g.memory.weightsBytes + g.memory.activationBytes)}
        </div>
        <div>inputs: {g.inputs.map((t) => `${t.name} ${t.type}${shape(t.shape)}`).join(', ')}</div>
        <div>outputs: {g.outputs.map((t) => `${t.name} ${t.type}${shape(t.shape)}`).join(', ')}</div>
        {g.unsupported.length > 0 && (
          <div data-testid="doctor-unsupported">
            not on {provider}: {g.unsupported.map((u) => `${opLabel(u)} → ${u.fallback === 'cpu' ? 'CPU' : u.fallback === 'none' ? 'no kernel' : 'unknown'}`).join(', ')}
          </div>
        )}
        <div className="muted">
          {g.nodeCount} nodes: {g.ops.map(opLabel).join(', ')}
        </div>
        {g.notes.map((n, i) => (
          <div key={i} className="muted">
            · {n}
          </div>
        ))}
      </div>
    </details>
  );
}

/**
 * The Models view's "Check" panel: the model doctor for one installed model and a provider —
 * precision, external data, static vs symbolic shapes, ops the provider cannot run, a memory
 * estimate and a verdict. Nothing is loaded; the backend reads graph headers only.
 */
export function ModelDoctor({ modelId }: { modelId: string }) {
  const doctor = useAtelier((s) => s.doctorModel);
  const [provider, setProvider] = useState<NonNullable<DoctorModelParams['provider']>>('auto');
  const [size, setSize] = useState('');
  const [report, setReport] = useState<ModelDoctorReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);

  const run = useCallback(async () => {
    const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/i.exec(size);
    if (size.trim() && !m) {
      setError('Size must look like 512x512 (or be empty for the model’s own size).');
      return;
    }
    setRunning(true);
    setError(null);
    try {
      setReport(await doctor({ modelId, provider, ...(m ? { width: Number(m[1]), height: Number(m[2]) } : {}) }));
    } catch (err) {
      setReport(null);
      setError(describeError(err));
    } finally {
      setRunning(false);
    }
  }, [doctor, modelId, provider, size]);

  // Check once when the panel opens (with 'auto' and the model's own size); later checks by the button.
  useEffect(() => {
    void run();
  }, [modelId]); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <div className="model-doctor" data-testid="model-doctor" data-model-id={modelId}>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <select data-testid="doctor-provider" value={provider} title="Execution provider to check for (it need not be on this machine)" onChange={(e) => setProvider(e.target.value as typeof provider)}>
          <option value="auto">auto (this machine)</option>
          {EXECUTION_PROVIDERS.map((p) => (
            <option key={p.name} value={p.name}>
              {p.label}
            </option>
          ))}
        </select>
        <input data-testid="doctor-size" placeholder="size, e.g. 512x512" value={size} onChange={(e) => setSize(e.target.value)} size={12} />
        <button type="submit" data-testid="doctor-run" disabled={running}>
          {running ? 'Checking…' : 'Check'}
        </button>
      </form>
      {error && <div className="error-text small">{error}</div>}
      {report && (
        <div data-testid="doctor-report" data-level={report.verdict.level} data-provider={report.provider}>
          <div className={LEVEL_CLASS[report.verdict.level]} data-testid="doctor-verdict">
            {LEVEL_MARK[report.verdict.level]} {report.verdict.text}
          </div>
          <div className="muted small">
            on {report.provider}
            {report.providerAvailable ? '' : ' (not on this machine)'} at {report.width}×{report.height} · device memory ≈ {formatBytesShort(report.memoryBytes)} (rough) · {report.providerSettings}
          </div>
          {report.notes.map((n, i) => (
            <div key={i} className="muted small">
              · {n}
            </div>
          ))}
          {report.graphs.map((g) => (
            <GraphRow key={g.file} g={g} provider={report.provider} />
          ))}
        </div>
      )}
    </div>
  );
}
