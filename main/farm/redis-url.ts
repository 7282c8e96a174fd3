/**
 * `--farm redis://[user:password@]host[:port][/db]` (or `rediss://` for TLS): parsed and checked
 * here, once, so a typo fails at start with a message that names the fix instead of as an endless
 * reconnect loop inside BullMQ. The password never appears in messages (`display` redacts it).
 */
import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

/** The --farm value cannot be used (not a redis:// or rediss:// URL, bad port or db). */
export class FarmConfigError extends Error {
  override name = 'FarmConfigError';
}

/** Redis did not answer (or refused the password) within the bounded attempts. */
export class FarmConnectionError extends Error {
  override name = 'FarmConnectionError';
}

export interface FarmRedis {
  /** ioredis options for every connection the farm opens (BullMQ duplicates them per queue/worker). */
  options: RedisOptions;
  /** The URL with the password replaced by ***: safe for logs and the UI. */
  display: string;
}

const DEFAULT_PORT = 6379;

export function parseFarmUrl(raw: string): FarmRedis {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FarmConfigError(`--farm must be a Redis URL such as redis://studio-server:6379 or rediss://:password@host:6380/0, got "${raw}"`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new FarmConfigError(`--farm must start with redis:// or rediss:// (TLS), got "${url.protocol}//"`);
  }
  if (!url.hostname) throw new FarmConfigError('--farm needs a host: redis://HOST:6379');
  const port = url.port ? Number(url.port) : DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new FarmConfigError(`--farm port must be 1..65535, got "${url.port}"`);
  const dbPart = url.pathname.replace(/^\//, '');
  const db = dbPart === '' ? 0 : Number(dbPart);
  if (!/^\d{0,5}$/.test(dbPart) || !Number.isInteger(db)) throw new FarmConfigError(`--farm database must be a number (redis://host:6379/0), got "/${dbPart}"`);
  if (url.search || url.hash) throw new FarmConfigError('--farm takes no query or fragment: put the password before the host (redis://:PASSWORD@host:6379)');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const tls = url.protocol === 'rediss:';
  const options: RedisOptions = {
    host,
    port,
    db,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    // rediss:// verifies the server's certificate against Node's CAs (add one with NODE_EXTRA_CA_CERTS).
    ...(tls ? { tls: { servername: host } } : {}),
    // BullMQ requires this for blocking connections; commands wait for a reconnect instead of failing.
    maxRetriesPerRequest: null,
    // After a Redis restart, come back within a couple of seconds (BullMQ's default waits up to 20 s).
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
  const auth = url.username || url.password ? `${url.username ? decodeURIComponent(url.username) : ''}${url.password ? ':***' : ''}@` : '';
  return { options, display: `${url.protocol}//${auth}${url.host}${db ? `/${db}` : ''}` };
}

/** The same options as BullMQ's connection type (its RedisOptions mirror ioredis' with looser callback types). */
export function bullConnection(farm: FarmRedis): ConnectionOptions {
  return { ...farm.options } as ConnectionOptions;
}

/**
 * Connects once and PINGs, at most `attempts` times with a growing pause: a Redis that is still
 * starting is waited for, one that is absent or refuses the password ends in FarmConnectionError.
 */
export async function checkReachable(farm: FarmRedis, opts: { attempts?: number; connectTimeoutMs?: number } = {}): Promise<void> {
  const attempts = opts.attempts ?? 5;
  let last = '';
  for (let i = 0; i < attempts; i++) {
    const client = new Redis({ ...farm.options, lazyConnect: true, retryStrategy: () => null, connectTimeout: opts.connectTimeoutMs ?? 3000, maxRetriesPerRequest: 0 });
    // A refused AUTH arrives as an 'error' event; connect() itself only says "Connection is closed".
    let reported = '';
    client.on('error', (err: Error) => (reported ||= err.message));
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (err) {
      last = reported || (err instanceof Error ? err.message : String(err));
      if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(last)) {
        throw new FarmConnectionError(`Redis at ${farm.display} refused the credentials (${last}): put the password in the URL, redis://:PASSWORD@host:6379`);
      }
    } finally {
      client.disconnect();
    }
    if (i + 1 < attempts) await new Promise((r) => setTimeout(r, 250 * 2 ** i));
  }
  throw new FarmConnectionError(`Cannot reach Redis at ${farm.display} after ${attempts} attempts (${last}). Start it (Debian: apt install redis-server) or fix --farm.`);
}
