import { Disk } from '../core/pool';

/** One byte that a fault changed; `offset` counts from the start of the region. */
export interface ByteFlip {
  offset: number;
  fileOffset: number;
  /** Bit numbers flipped in this byte, 0 = least significant. */
  bits: number[];
  before: number;
  after: number;
}

export interface DiskRef {
  index: number;
  id: string;
}

interface BaseChange {
  path: string;
  disk: DiskRef;
}

export interface ShardRef {
  extent: string;
  shard: number;
}

export type Change =
  | (BaseChange & ShardRef & { action: 'corrupt'; region: 'header' | 'payload'; flips: ByteFlip[] })
  | (BaseChange & ShardRef & { action: 'truncate'; sizeBefore: number; sizeAfter: number })
  | (BaseChange & ShardRef & { action: 'delete'; size: number })
  | (BaseChange & ShardRef & { action: 'extend'; sizeBefore: number; sizeAfter: number })
  | (BaseChange & { action: 'detach-disk'; movedTo: string })
  | (BaseChange & { action: 'attach-disk'; movedFrom: string })
  | (BaseChange & { action: 'damage-manifest'; object: string; flips: ByteFlip[] });

export const diskRef = (d: Disk): DiskRef => ({ index: d.index, id: d.id });

function describeFlips(flips: ByteFlip[]): string {
  return flips.map((f) => `byte ${f.offset} ${f.bits.length === 1 ? 'bit' : 'bits'} ${f.bits.join(',')}`).join(', ');
}

/** The one line an operator reads to know exactly what was damaged, and where. */
export function describeChange(c: Change): string {
  const at = c.action === 'damage-manifest' ? `object ${JSON.stringify(c.object)}` : 'extent' in c ? `extent ${c.extent}, shard ${c.shard}` : `id ${c.disk.id}`;
  const where = `(disk ${c.disk.index}, ${at})`;
  switch (c.action) {
    case 'corrupt':
      return `corrupt ${c.region} ${describeFlips(c.flips)} of ${c.path} ${where}`;
    case 'truncate':
      return `truncate ${c.path} from ${c.sizeBefore} to ${c.sizeAfter} bytes ${where}`;
    case 'delete':
      return `delete ${c.path}, ${c.size} bytes ${where}`;
    case 'extend':
      return `extend ${c.path} by ${c.sizeAfter - c.sizeBefore} garbage bytes, from ${c.sizeBefore} to ${c.sizeAfter} bytes ${where}`;
    case 'detach-disk':
      return `detach-disk moved ${c.path} to ${c.movedTo} ${where}`;
    case 'attach-disk':
      return `attach-disk moved ${c.movedFrom} to ${c.path} ${where}`;
    case 'damage-manifest':
      return `damage-manifest ${describeFlips(c.flips)} of ${c.path} ${where}`;
  }
}
