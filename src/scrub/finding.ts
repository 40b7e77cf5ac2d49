import { Health } from './verify';

/** One thing a pass found, named with disk and file (DESIGN §2), and what was done about it. */
export interface Finding {
  kind: string;
  /** Info findings (orphans, stray files) never change health or the exit code. */
  severity: 'problem' | 'info';
  extent?: string;
  shard?: number;
  disk?: number;
  path: string;
  detail: string;
  objects?: string[];
  health?: Health;
  action: 'none' | 'rebuilt' | 'rewritten' | 'quarantined';
  result: 'left' | 'repaired' | 'failed' | 'info';
  quarantine?: string;
}
