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
 * A calendar's longest gap, by its text, as computed at `at`. Walking 50 runs
 * of a calendar costs a scrape a few milliseconds (tens on the first, cold);
 * the schedule files are still read every scrape, so a changed calendar is a
 * new key at once. The gap over the next 50 runs moves only as the calendar
 * turns (a month's length, a leap day): an hour-old answer is good enough.
 */
const gaps = new Map<string, { gap: number | null; at: number }>();
const GAP_KEPT_MS = 3600_000;
/** More distinct calendars than any host has pools and depths: beyond it the cache starts over. */
const MAX_GAPS_KEPT = 1024;

function longestGap(calendar: string, now: Date): number | null {
  const kept = gaps.get(calendar);
  if (kept && Math.abs(now.getTime() - kept.at) < GAP_KEPT_MS) return kept.gap;
  const gap = longestInterval(parseSystemdCalendar(calendar), now, RUNS_PROBED);
  if (gaps.size >= MAX_GAPS_KEPT) gaps.clear();
  gaps.set(calendar, { gap, at: now.getTime() });
  return gap;
}

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
      const gap = longestGap(found.calendar, now);
      if (gap !== null) out.push({ depth, calendar: found.calendar, intervalSeconds: gap + Math.max(0, found.randomizedDelaySec || 0) });
    } catch {
      continue;
    }
  }
  return out;
}
