import type { ProjectSummary } from '../../common/api/contract';

/**
 * Projects to offer under "Recent" in the switcher: opened before (the server's registry stamps
 * `lastOpenedAt`), most recent first, the current project left out because it is already shown.
 * ISO 8601 strings in UTC sort like the times they name, so no Date parsing is needed.
 */
export function recentProjects(projects: readonly ProjectSummary[], max = 4): ProjectSummary[] {
  return projects
    .filter((p): p is ProjectSummary & { lastOpenedAt: string } => !p.isCurrent && p.lastOpenedAt != null)
    .sort((a, b) => (a.lastOpenedAt < b.lastOpenedAt ? 1 : a.lastOpenedAt > b.lastOpenedAt ? -1 : 0))
    .slice(0, max);
}
