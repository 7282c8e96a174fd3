import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useAtelier } from '../state/store';

export function ProjectSwitcher() {
  const { projects, open, create } = useAtelier(useShallow((s) => ({ projects: s.projects, open: s.openProject, create: s.createProject })));
  const [naming, setNaming] = useState(false);
  const [name, setName] = useState('');
  const current = projects.find((p) => p.isCurrent);
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
        title={current?.path}
        value={current?.id ?? ''}
        onChange={(e) => (e.target.value === '__new' ? setNaming(true) : void open(e.target.value))}
      >
        {!current && <option value="">No project</option>}
        {projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
        <option value="__new">+ New project…</option>
      </select>
    </div>
  );
}
