/**
 * A separate "app" process for the download kill test (test/models/download.test.ts): downloads one
 * request from the loopback hub with a ModelDownloader, printing a JSON line per progress event, so
 * the test can SIGKILL it mid-transfer and resume in its own process.
 *
 *   node --import tsx download-child.ts <modelsDir> <endpoint> <request.json>
 */
import { readFileSync } from 'node:fs';
import { ModelDownloader, type DownloadRequest } from '../../../main/models/downloader';

const [modelsDir, endpoint, requestFile] = process.argv.slice(2);
if (!modelsDir || !endpoint?.startsWith('http://127.0.0.1:') || !requestFile) {
  console.error('usage: download-child.ts <modelsDir> <http://127.0.0.1:PORT> <request.json>');
  process.exit(2);
}
// Never outlive a test that forgot to kill it.
setTimeout(() => process.exit(3), 60_000).unref();

const request = JSON.parse(readFileSync(requestFile, 'utf8')) as DownloadRequest;
const job = new ModelDownloader({ modelsDir, endpoint, concurrency: 1, progressIntervalMs: 0, retryBaseMs: 5, retryMaxMs: 50 }).start(request);
console.log(JSON.stringify({ event: 'started', pid: process.pid }));
job.on('progress', (p) => console.log(JSON.stringify({ event: 'progress', files: p.files.map((f) => ({ path: f.path, bytesDone: f.bytesDone })) })));
job.done.then(
  () => {
    console.log(JSON.stringify({ event: 'done' }));
    process.exit(0);
  },
  (err: Error) => {
    console.log(JSON.stringify({ event: 'failed', message: err.message }));
    process.exit(1);
  },
);
