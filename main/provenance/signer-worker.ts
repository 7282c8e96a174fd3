/**
 * The signing process (started by signer-process.ts): connects back to the app over the socket named
 * in its environment, proves itself with the token it was given, then signs one request at a time
 * with c2pa.ts, for as long as the app keeps the connection open. It exits when the connection
 * closes (the app quit, crashed or dropped it), so it never outlives the app.
 *
 * Why a process of its own: @contentauth/c2pa-node allocates several fresh multi-MiB buffers per
 * signing. This process is started with glibc told to keep freed memory (see KEEP_FREED_MEMORY in
 * signer-process.ts), so from the second signing on those buffers are memory it already has, and
 * the app's own heap never holds them. A native crash inside c2pa also ends only this process.
 */
import net from 'node:net';
import { signAsset, type IngredientAsset } from './c2pa';
import { encodeFrame, FrameReader, insertedBlock, type HelloHeader, type SignRequestHeader, type SignResponseHeader } from './signer-protocol';
import type { SigningIdentity } from './identity';

const socketPath = process.env.ATELIER_SIGNER_SOCKET;
const token = process.env.ATELIER_SIGNER_TOKEN;
if (!socketPath || !token) {
  console.error('The signing process is started by the app (signer-process.ts), not directly.');
  process.exit(2);
}

/** Set only by the tests (test/provenance/signer-process.test.ts): how to misbehave. */
const TEST_HOOK = process.env.ATELIER_SIGNER_TEST_HOOK ?? '';

/** A sudden death as the OOM killer or a native crash would cause (SIGKILL: no core file left in the cwd). */
function dieForTest(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

const socket = net.createConnection(socketPath);
const reader = new FrameReader(8 * 1024 * 1024);

function send(header: SignResponseHeader | HelloHeader, body?: Uint8Array): void {
  socket.cork();
  for (const part of encodeFrame(header, body)) socket.write(part);
  socket.uncork();
}

async function handle(req: SignRequestHeader, body: Buffer): Promise<void> {
  const c0 = process.cpuUsage();
  const warnings: string[] = [];
  try {
    const asset = body.subarray(0, req.assetLength);
    let at = req.assetLength;
    const ingredients: IngredientAsset[] = req.ingredients.map((ing) => {
      const bytes = body.subarray(at, at + ing.length);
      at += ing.length;
      return { bytes, mime: ing.mime, title: ing.title, instanceId: ing.instanceId, relationship: ing.relationship };
    });
    const [source, serialNumber] = req.identity.key.split('\0');
    const identity: SigningIdentity = {
      certificate: Buffer.from(req.identity.certificate),
      privateKey: Buffer.from(req.identity.privateKey),
      algorithm: req.identity.algorithm,
      source: source ?? '',
      serialNumber: serialNumber ?? '',
      commonName: '',
    };
    const signed = await signAsset(asset, req.mime, req.definition, identity, ingredients, { warnings });
    const inserted = insertedBlock(asset, signed);
    const cpu = process.cpuUsage(c0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (inserted) send({ type: 'signed', id: req.id, mode: 'insert', at: inserted.at, warnings, cpuMs }, inserted.block);
    else send({ type: 'signed', id: req.id, mode: 'whole', at: 0, warnings, cpuMs }, signed);
  } catch (err) {
    send({ type: 'failed', id: req.id, message: (err as Error)?.message ?? String(err), warnings });
  }
}

/**
 * One request at a time, in order. A frame's body is a view into the reader's buffer, so bytes that
 * arrive while a request is being signed wait in `inbox` and are added only between requests.
 */
const inbox: Buffer[] = [];
let wake: (() => void) | null = null;

async function serve(): Promise<void> {
  for (;;) {
    while (inbox.length) reader.push(inbox.shift()!);
    for (let frame = reader.next(); frame; frame = reader.next()) {
      if (TEST_HOOK === 'crash-frame' && frame.header.type === 'crash-for-test') dieForTest();
      if (frame.header.type !== 'sign') continue;
      if (TEST_HOOK === 'die-on-sign') dieForTest();
      if (TEST_HOOK === 'hang-on-sign') continue;
      await handle(frame.header as unknown as SignRequestHeader, frame.body);
    }
    if (!inbox.length) await new Promise<void>((resolve) => (wake = resolve));
    wake = null;
  }
}

socket.on('connect', () => send({ type: 'hello', token, pid: process.pid }));
socket.on('data', (chunk: Buffer) => {
  inbox.push(chunk);
  wake?.();
});
socket.on('error', () => undefined);
socket.on('close', () => process.exit(0));
serve().catch((err: unknown) => {
  // A malformed frame: drop the connection (the app sees the process end and says why).
  console.error(`signing process: ${(err as Error)?.message ?? err}`);
  process.exit(3);
});
