import { useShallow } from 'zustand/react/shallow';
import { canRun, providerStatuses } from '../lib/providers';
import { useAtelier } from '../state/store';

/**
 * Which execution providers an installed model runs on: the catalog's list for catalog models,
 * each marked as available (or not) on this machine, and the provider it is loaded on now.
 */
export function ProviderCompat({ modelId }: { modelId: string }) {
  const { entry, eps, loaded, lastLoad, loading } = useAtelier(
    useShallow((s) => ({
      entry: s.catalog.find((m) => m.id === modelId),
      eps: s.systemInfo?.executionProviders,
      loaded: s.loadedModel?.modelId === modelId ? s.loadedModel : null,
      lastLoad: s.loadedModel,
      loading: s.modelLoading,
    })),
  );
  // The same status (and reason text) as the header's provider chips.
  const statuses = new Map(providerStatuses(eps, lastLoad, loading).map((p) => [p.name, p]));
  const providers = entry?.providers ?? null;
  // One line per provider (a load reports each of its sessions' fallbacks).
  const fellBack = new Map((loaded?.fallbacks ?? []).map((f) => [f.provider, f.reason]));
  return (
    <span className="provider-compat" data-testid="model-providers" data-providers={providers?.join(',') ?? ''}>
      {providers ? (
        <>
          runs on{' '}
          {providers.map((p) => {
            const status = statuses.get(p);
            const here = !!status && canRun(status);
            return (
              <span key={p} className={here ? 'chip ep' : 'chip muted'} data-provider={p} data-available={here} data-state={status?.state ?? 'absent'} title={`${p}: ${status ? status.reason : 'not in this ONNX Runtime build'}`}>
                {p}
              </span>
            );
          })}
        </>
      ) : (
        <span title="Not a catalog model: the providers it supports are found when it is first loaded">providers checked on first load</span>
      )}
      {fellBack.size > 0 && (
        <span className="muted" title={[...fellBack].map(([p, reason]) => `${p}: ${reason}`).join('\n')}>
          {' '}· {fellBack.size} faster provider{fellBack.size === 1 ? '' : 's'} not used
        </span>
      )}
    </span>
  );
}

/**
 * Which catalog build an installed model is (the variant its pull chose: generic files, or a
 * provider-specific build), and whether its file list came from the hub's listing.
 */
export function InstalledBuild({ modelId }: { modelId: string }) {
  const entry = useAtelier((s) => s.catalog.find((m) => m.id === modelId && m.installed));
  if (!entry || (!entry.installedVariant && entry.filesFrom !== 'hub-tree')) return null;
  return (
    <span data-testid="model-build" data-variant={entry.installedVariant ?? ''}>
      {entry.installedVariant ? ` · build ${entry.installedVariant}` : ''}
      {entry.filesFrom === 'hub-tree' ? ' · files as listed by the hub at download' : ''}
    </span>
  );
}

/**
 * The outcome of "Validate & import": the headline, then each problem the validator found on its
 * own line (the backend lists them as "\n  - problem"), so users can fix the folder point by point.
 */
export function ImportValidation({ ok, message }: { ok: boolean; message: string }) {
  const [headline = '', ...rest] = message.split('\n');
  const problems = rest.map((l) => l.replace(/^\s*-\s*/, '').trim()).filter(Boolean);
  return (
    <div className={ok ? 'hint ok' : 'hint warn'} data-testid="import-result" data-ok={ok} data-problems={problems.length}>
      <div>{ok ? `✓ ${headline}` : headline.replace(/:$/, '')}</div>
      {problems.length > 0 && (
        <ul className="validation-problems" data-testid="import-problems">
          {problems.map((p, i) => (
            <li key={i}>{p}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
