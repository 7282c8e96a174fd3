/** Small inline SVG icons (no icon font or emoji: those render as boxes on minimal systems). */
const base = { width: 14, height: 14, viewBox: '0 0 16 16', fill: 'none', stroke: 'currentColor', strokeWidth: 1.6, strokeLinecap: 'round' as const, strokeLinejoin: 'round' as const, 'aria-hidden': true };

export const LockIcon = ({ open }: { open?: boolean }) => (
  <svg {...base}>
    <rect x="3" y="7" width="10" height="7" rx="1.5" />
    <path d={open ? 'M5.5 7V5a2.5 2.5 0 0 1 4.9-.7' : 'M5.5 7V5a2.5 2.5 0 0 1 5 0v2'} />
  </svg>
);

export const DiceIcon = () => (
  <svg {...base}>
    <rect x="2.5" y="2.5" width="11" height="11" rx="2" />
    <circle cx="5.5" cy="5.5" r="0.6" fill="currentColor" />
    <circle cx="10.5" cy="10.5" r="0.6" fill="currentColor" />
    <circle cx="8" cy="8" r="0.6" fill="currentColor" />
    <circle cx="10.5" cy="5.5" r="0.6" fill="currentColor" />
    <circle cx="5.5" cy="10.5" r="0.6" fill="currentColor" />
  </svg>
);
