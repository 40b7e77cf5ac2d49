import { lazy } from './lazy';

// Random names and ids for the core. node:crypto is not in node's start-up
// snapshot: loading it takes ~5 ms (with its 15 internal modules), and a
// status, a --help or a verify thread never draws a random byte. It loads
// on the first draw.
const crypto = lazy((): typeof import('node:crypto') => require('node:crypto'));

export const randomBytes = (size: number): Buffer => crypto().randomBytes(size);
export const randomUUID = (): string => crypto().randomUUID();
