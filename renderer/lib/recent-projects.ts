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

/**
 * The switcher's groups, each project in exactly one: the open project, "Recent" (opened before,
 * most recent first, at most `maxRecent`), and "Other projects" (the rest, by name). Archived projects
 * are left out (they are listed in Manage projects), unless one is the open project.
 */
export function switcherGroups(
  projects: readonly ProjectSummary[],
  maxRecent = 4,
): { current: ProjectSummary | null; recent: ProjectSummary[]; others: ProjectSummary[] } {
  // One entry per id even if a list arrived with a project twice (the open one's entry wins).
  const byId = new Map<string, ProjectSummary>();
  for (const p of projects) if (!byId.has(p.id) || p.isCurrent) byId.set(p.id, p);
  const unique = [...byId.values()];
  const current = unique.find((p) => p.isCurrent) ?? null;
  const live = unique.filter((p) => !p.archivedAt);
  const recent = recentProjects(live, maxRecent);
  const shown = new Set([current?.id, ...recent.map((p) => p.id)]);
  const others = live.filter((p) => !shown.has(p.id)).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return { current, recent, others };
}
