import { longestInterval, parseSystemdCalendar } from '../schedule/calendar';
import { escapePath } from '../schedule/escape';
import { resolveWhere } from '../schedule/manage';
import { DEPTHS } from '../schedule/settings';
import { readSchedule } from '../schedule/store';
import { readSystemdConfig } from '../schedule/systemd';
import type { Depth } from '../scrub/verify';

// How often a pool is scheduled to be scrubbed, at each depth, so that the time
// since its last completed pass can be held against what its schedule
// promises rather than against one fixed threshold for every pool. The
// schedule is the systemd timer's config (/etc/dynamicfs/scrub) or, without
// systemd, the file the node-cron runner reads in the pool; both are read,
// never written.

export interface ScheduledDepth {
  depth: Depth;
  /** The systemd calendar expression the scrubs run on. */
  calendar: string;
  /** The longest wait between two runs: the calendar's longest gap plus its randomized delay. */
  intervalSeconds: number;
}

/** Enough upcoming runs to meet a calendar's longest gap (a month's, a leap day's) without costing a scrape much. */
const RUNS_PROBED = 50;

/**
 * The pool's schedules, one per depth that has one. A schedule that cannot be
 * read or understood is left out: `dfs-scrub-schedule --list` names the fault,
 * and a scrape must not fail for it.
 */
export function poolSchedules(root: string, now = new Date()): ScheduledDepth[] {
  const out: ScheduledDepth[] = [];
  for (const depth of DEPTHS) {
    try {
      const found = readSystemdConfig(resolveWhere({}).target, depth, escapePath(root)) ?? readSchedule(root, depth);
      if (!found) continue;
      const gap = longestInterval(parseSystemdCalendar(found.calendar), now, RUNS_PROBED);
      if (gap !== null) out.push({ depth, calendar: found.calendar, intervalSeconds: gap + Math.max(0, found.randomizedDelaySec || 0) });
    } catch {
      continue;
    }
  }
  return out;
}
