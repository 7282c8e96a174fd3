/**
 * The engine's script, in both of its roles: started as a process by the engine host
 * (child_process.fork, or Electron's utilityProcess) it is the engine process (engine-process.ts),
 * which runs this same script again as its engine thread (engine-thread.ts).
 */
import { isMainThread } from 'node:worker_threads';

if (isMainThread) await import('./engine-process');
else await import('./engine-thread');
