/** The render farm (Redis + BullMQ): the coordinator executor for `atelier serve --farm`, the `atelier worker`. */
export { FarmCoordinator } from './coordinator';
export type { CoordinatorOptions } from './coordinator';
export { FarmWorker } from './worker';
export type { FarmWorkerOptions } from './worker';
export { FarmConfigError, FarmConnectionError, checkReachable, parseFarmUrl } from './redis-url';
export type { FarmRedis } from './redis-url';
export type { FarmWorkerInfo, FarmModelRef } from './protocol';
