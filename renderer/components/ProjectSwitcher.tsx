import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useAtelier } from '../state/store';
import { recentProjects } from '../lib/recent-projects';

export function ProjectSwitcher() {
  const { projects, open, create } = useAtelier(
    useShallow((s) => ({ projects: s.projects, open: s.openProject, create: s.createProject })),
  );
  const [naming, setNaming] = useState(false);
  const [name, setName] = useState('');
  const current = projects.find((p) => p.isCurrent);
  // Recently opened projects other than this one, most recent first: one step to go back.
  const recent = recentProjects(projects);
  if (naming) {
    return (
      <form
        className="project-new"
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) void create(name.trim());
          setNaming(false);
          setName('');
        }}
      >
        <input autoFocus data-testid="project-name" placeholder="Project name" value={name} onChange={(e) => setName(e.target.value)} onKeyDown={(e) => e.key === 'Escape' && setNaming(false)} />
        <button type="submit" className="primary" data-testid="project-create" disabled={!name.trim()}>
          Create
        </button>
      </form>
    );
  }
  return (
    <div className="project-switcher">
      <select
        data-testid="project-select"
        aria-label="Project"
        title={current ? `${current.name} — ${current.path}\nSwitch, reopen a recent project, or create one` : 'Switch or create a project'}
        value={current?.id ?? ''}
        onChange={(e) => (e.target.value === '__new' ? setNaming(true) : void open(e.target.value))}
      >
        {!current && <option value="">No project</option>}
        {current && (
          <option key={current.id} value={current.id}>
            {current.name}
          </option>
        )}
        {recent.length > 0 && (
          <optgroup label="Recent" data-testid="project-recent">
            {recent.map((p) => (
              <option key={`recent-${p.id}`} value={p.id} data-recent="true">
                {p.name}
              </option>
            ))}
          </optgroup>
        )}
        {projects.length > (current ? 1 : 0) && (
          <optgroup label="All projects">
            {projects
              .filter((p) => p.id !== current?.id)
              .map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
          </optgroup>
        )}
        <option value="__new">+ New project…</option>
      </select>
    </div>
  );
}
