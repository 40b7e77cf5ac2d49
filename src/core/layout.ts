import path from 'node:path';
import { blake3Hex } from './hash';

// The on-disk layout is fixed by DESIGN.md §1: outside checks read and damage
// these files directly, so every path is built here and nowhere else.

export const POOL_FILE = 'pool.json';
export const STATE_DIR = '.dynamicfs';
export const DISK_LABEL = 'dynamicfs-disk.json';
export const EXTENTS_DIR = 'extents';
export const OBJECTS_DIR = 'objects';
export const MANIFEST_SUFFIX = '.manifest';

export const poolFile = (root: string) => path.join(root, POOL_FILE);
export const stateDir = (root: string) => path.join(root, STATE_DIR);
/** Where an earlier version kept damaged files (copies on the pool's filesystem): still listed and restorable. */
export const poolQuarantineDir = (root: string) => path.join(root, STATE_DIR, 'quarantine');
/** A disk's own state: its quarantine lives on the same filesystem as the files it keeps. */
export const diskStateDir = (disk: string) => path.join(disk, STATE_DIR);
export const diskQuarantineDir = (disk: string) => path.join(disk, STATE_DIR, 'quarantine');
export const diskLabelPath = (disk: string) => path.join(disk, DISK_LABEL);
export const extentsDir = (disk: string) => path.join(disk, EXTENTS_DIR);
export const shardDir = (disk: string, extentId: string) => path.join(disk, EXTENTS_DIR, extentId.slice(0, 2));
export const shardFileName = (extentId: string, index: number) => `${extentId}.${index}`;
export const shardPath = (disk: string, extentId: string, index: number) =>
  path.join(shardDir(disk, extentId), shardFileName(extentId, index));
/** The 256 fan-out directory names under extents/, in id order. */
export const PREFIXES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
export const objectsDir = (disk: string) => path.join(disk, OBJECTS_DIR);

/** Manifest file names are a hash of the object name: any name is safe on disk. */
export const manifestFileName = (objectName: string) => blake3Hex(`object:${objectName}`) + MANIFEST_SUFFIX;
export const manifestPath = (disk: string, objectName: string) => path.join(objectsDir(disk), manifestFileName(objectName));

/** `<64 hex>.<decimal index>`, the only shape a shard file name may have. */
export const SHARD_NAME_RE = /^([0-9a-f]{64})\.(0|[1-9][0-9]{0,2})$/;
export const MANIFEST_NAME_RE = /^[0-9a-f]{64}\.manifest$/;
