/**
 * The load generator of bench/soak-lib.ts runLoad, in a process of its own (as browsers are): M
 * WebSocket clients call the API's reads back to back for S seconds and print one JSON line with
 * every call's latency by method.   tsx bench/soak-clients.ts <ws-url> <origin> <clients> <seconds>
 */
import WebSocket from 'ws';

const [url, origin, clientsArg, secondsArg] = process.argv.slice(2);
const READS: { method: string; payload?: unknown }[] = [
  { method: 'queryHistory', payload: { limit: 50 } },
  { method: 'listJobs' },
  { method: 'getSystemInfo' },
  { method: 'listModels' },
  { method: 'listProjects' },
  { method: 'getSettings' },
];
const until = Date.now() + Number(secondsArg) * 1000;
const byMethod: Record<string, number[]> = {};
let errors = 0;

async function client(c: number): Promise<void> {
  const ws = new WebSocket(url, { headers: { Origin: origin } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const waiting = new Map<number, (ok: boolean) => void>();
  ws.on('message', (raw) => {
    const text = raw.toString();
    // Events (progress, previews) are not replies: skip them without parsing the whole payload.
    if (!text.startsWith('{"id":')) return;
    const msg = JSON.parse(text) as { id: number; result?: { ok: boolean } };
    waiting.get(msg.id)?.(msg.result?.ok === true);
  });
  let id = c * 1_000_000;
  for (let k = c; Date.now() < until; k++) {
    const read = READS[k % READS.length];
    const callId = ++id;
    const t0 = performance.now();
    const ok = await new Promise<boolean>((resolve) => {
      waiting.set(callId, resolve);
      ws.send(JSON.stringify({ id: callId, method: read.method, payload: read.payload }));
    });
    waiting.delete(callId);
    if (!ok) errors++;
    (byMethod[read.method] ??= []).push(performance.now() - t0);
  }
  ws.close();
}

await Promise.all(Array.from({ length: Number(clientsArg) }, (_, c) => client(c)));
process.stdout.write(`${JSON.stringify({ byMethod, errors })}\n`);
