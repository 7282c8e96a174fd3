/** Cancelling a download is not a failure: the row goes away without an error toast. */
import { expect, it } from 'vitest';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient } from './fake-client';

it('a cancelled download disappears; a real failure stays with its message', async () => {
  const fake = createFakeClient();
  fake.client.listCatalog = async () => [];
  fake.client.listDownloads = async () => [];
  fake.client.pullModel = async (req) => ({ modelId: req.source, bytesTotal: 1e6 });
  fake.client.cancelDownload = async () => ({ ok: true });
  const store = createAtelierStore(fake.client);
  await store.getState().init();
  const s = () => store.getState();

  await s().pullModel('taesd');
  await s().cancelDownload('taesd');
  // The backend reports the stopped job afterwards, as a failure with code "cancelled".
  fake.emit({ type: 'model:download-failed', modelId: 'taesd', resumable: false, error: { code: 'cancelled', message: 'download of taesd cancelled; partial files deleted' } });
  expect(s().downloads.taesd).toBeUndefined();
  expect(s().toasts.filter((t) => t.title.includes('taesd'))).toEqual([]);

  await s().pullModel('sd15');
  fake.emit({ type: 'model:download-failed', modelId: 'sd15', resumable: true, error: { code: 'model_error', message: 'Disk full: free 2 GB and retry' } });
  expect(s().downloads.sd15).toMatchObject({ state: 'failed', error: 'Disk full: free 2 GB and retry' });
  expect(s().toasts.at(-1)).toMatchObject({ kind: 'error', message: 'Disk full: free 2 GB and retry' });
});
