import { afterEach, describe, expect, it, vi } from 'vitest';
import { AtelierApiError } from '../../common/api/contract';
import { createAtelierStore } from '../../renderer/state/store';
import { MAX_TOASTS, TOAST_ACTION_MS, TOAST_MS } from '../../renderer/state/ui-slice';
import { createFakeClient } from './fake-client';

async function ready() {
  const fake = createFakeClient();
  const store = createAtelierStore(fake.client);
  await store.getState().init();
  await new Promise((r) => setTimeout(r, 0));
  // Startup may toast about methods the fake does not model (boards): start from none.
  for (const t of store.getState().toasts) store.getState().dismissToast(t.id);
  return { fake, s: () => store.getState() };
}

afterEach(() => vi.useRealTimers());

describe('toasts', () => {
  it('counts a repeated error on one toast instead of stacking copies', async () => {
    const { s } = await ready();
    const err = new AtelierApiError('invalid_request', 'Invalid request for generate: width: must be a multiple of 8', [{ path: 'width', message: 'must be a multiple of 8' }]);
    s().reportError('Could not start generation', err);
    s().reportError('Could not start generation', err);
    s().reportError('Could not start generation', err);
    expect(s().toasts).toHaveLength(1);
    expect(s().toasts[0]).toMatchObject({ kind: 'error', title: 'Could not start generation', message: 'Width must be a multiple of 8.', count: 3 });
    // A different error is a toast of its own.
    s().reportError('Could not start generation', new Error('Out of memory'));
    expect(s().toasts.map((t) => [t.message, t.count])).toEqual([
      ['Width must be a multiple of 8.', 3],
      ['Out of memory', 1],
    ]);
  });

  it('shows at most a few toasts, dropping info ones before errors', async () => {
    const { s } = await ready();
    s().pushToast({ kind: 'error', title: 'e1', message: 'first error' });
    s().pushToast({ kind: 'info', title: 'i1', message: 'note' });
    s().pushToast({ kind: 'error', title: 'e2', message: 'second error' });
    s().pushToast({ kind: 'error', title: 'e3', message: 'third error' });
    expect(s().toasts).toHaveLength(MAX_TOASTS);
    expect(s().toasts.map((t) => t.title)).toEqual(['e1', 'e2', 'e3']);
    s().pushToast({ kind: 'error', title: 'e4', message: 'fourth error' });
    expect(s().toasts.map((t) => t.title)).toEqual(['e2', 'e3', 'e4']);
  });

  it('closes info and success toasts after a few seconds; errors stay until dismissed', async () => {
    const { s } = await ready();
    vi.useFakeTimers();
    s().pushToast({ kind: 'info', title: 'Copied', message: 'Parameters copied.' });
    s().pushToast({ kind: 'success', title: 'Done', message: 'Saved.' });
    s().pushToast({ kind: 'info', title: 'Moved to trash', message: 'x', action: { label: 'Undo', run() {} } });
    s().reportError('Could not save settings', new Error('disk full'));
    expect(s().toasts).toHaveLength(3); // capped: the oldest info one made room
    vi.advanceTimersByTime(TOAST_MS + 1);
    expect(s().toasts.map((t) => t.title)).toEqual(['Moved to trash', 'Could not save settings']);
    vi.advanceTimersByTime(TOAST_ACTION_MS);
    expect(s().toasts.map((t) => t.title)).toEqual(['Could not save settings']);
    vi.advanceTimersByTime(60_000);
    expect(s().toasts).toHaveLength(1);
    s().dismissToast(s().toasts[0]!.id);
    expect(s().toasts).toEqual([]);
  });

  it('a repeated info toast restarts its timer', async () => {
    const { s } = await ready();
    vi.useFakeTimers();
    s().pushToast({ kind: 'info', title: 'Copied', message: 'Parameters copied.' });
    vi.advanceTimersByTime(TOAST_MS - 500);
    s().pushToast({ kind: 'info', title: 'Copied', message: 'Parameters copied.' });
    vi.advanceTimersByTime(1000);
    expect(s().toasts).toMatchObject([{ title: 'Copied', count: 2 }]);
    vi.advanceTimersByTime(TOAST_MS);
    expect(s().toasts).toEqual([]);
  });
});

describe('generate from the UI', () => {
  it('refuses while a number field is invalid, showing why, instead of using the last valid value', async () => {
    const { fake, s } = await ready();
    s().setParams({ prompt: 'a red star', width: 64 });
    s().setFieldError('width', { message: 'Width must be a multiple of 32 for this model.', shown: false });
    expect(await s().requestGenerate()).toBeNull();
    expect(fake.callsTo('generate')).toEqual([]);
    expect(s().fieldErrors.width).toEqual({ message: 'Width must be a multiple of 32 for this model.', shown: true });
    s().setFieldError('width', null);
    expect(await s().requestGenerate()).toBe('job1');
    expect(fake.callsTo('generate')[0]).toMatchObject({ prompt: 'a red star', width: 64 });
  });

  it('asks before generating with an empty prompt', async () => {
    const { fake, s } = await ready();
    s().setParams({ prompt: '   ' });
    expect(await s().requestGenerate()).toBeNull();
    expect(s().emptyPromptConfirm).toBe(true);
    expect(fake.callsTo('generate')).toEqual([]);
    s().cancelEmptyPrompt();
    expect(s().emptyPromptConfirm).toBe(false);
    await s().requestGenerate();
    expect(await s().requestGenerate({ allowEmptyPrompt: true })).toBe('job1');
    expect(s().emptyPromptConfirm).toBe(false);
    expect(fake.callsTo('generate')).toHaveLength(1);
  });
});
