/**
 * "Winner stays" A/B culling: the current champion (left) meets each remaining image (right) in
 * turn; the user keeps the left or lets the right win. Pure so the keyboard flow is unit-tested.
 */
export interface AbState {
  champion: string;
  challengers: string[];
  round: number;
  total: number;
  done: boolean;
}

export function startAb(ids: string[]): AbState | null {
  if (ids.length < 2) return null;
  return { champion: ids[0]!, challengers: ids.slice(1), round: 1, total: ids.length - 1, done: false };
}

export function chooseAb(state: AbState, winner: 'left' | 'right'): AbState {
  if (state.done || state.challengers.length === 0) return { ...state, done: true };
  const [challenger, ...rest] = state.challengers;
  const champion = winner === 'right' ? challenger! : state.champion;
  return { champion, challengers: rest, round: state.round + (rest.length > 0 ? 1 : 0), total: state.total, done: rest.length === 0 };
}
