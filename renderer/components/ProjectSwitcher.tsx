import { useCallback, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useAtelier } from '../state/store';
import { switcherGroups } from '../lib/recent-projects';
import { ProjectsDialog } from './ProjectsDialog';

export function ProjectSwitcher() {
  const { projects, open, create } = useAtelier(
    useShallow((s) => ({ projects: s.projects, open: s.openProject, create: s.createProject })),
  );
  const [naming, setNaming] = useState(false);
  const [managing, setManaging] = useState(false);
  const closeManage = useCallback(() => setManaging(false), []);
  const [name, setName] = useState('');
  // Every project once: the open one, then "Recent" (one step to go back), then the others.
  const { current, recent, others } = switcherGroups(projects);
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
        title={current ? `${current.name} — ${current.path}\nSwitch, reopen a recent project, create or manage projects` : 'Switch or create a project'}
        value={current?.id ?? ''}
        onChange={(e) => {
          if (e.target.value === '__new') setNaming(true);
          else if (e.target.value === '__manage') setManaging(true);
          else void open(e.target.value);
        }}
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
              <option key={p.id} value={p.id} data-recent="true">
                {p.name}
              </option>
            ))}
          </optgroup>
        )}
        {others.length > 0 && (
          <optgroup label="Other projects" data-testid="project-others">
            {others.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </optgroup>
        )}
        <option value="__new">+ New project…</option>
        <option value="__manage">Manage projects…</option>
      </select>
      {managing && <ProjectsDialog close={closeManage} />}
    </div>
  );
}
