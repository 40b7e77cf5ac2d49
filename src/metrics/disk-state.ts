import { DiskState } from '../core/pool';

/** Every disk state, so each has a series (zero included) in dynamicfs_disks. */
export const DISK_STATES: readonly DiskState[] = ['online', 'missing', 'foreign', 'unreadable', 'read-only'];
