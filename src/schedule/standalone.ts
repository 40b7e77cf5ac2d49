import fs from 'node:fs';
import { emptyPlan, Plan } from './plan';
import { describeRequest, ScheduleRequest } from './request';
import type { Depth } from '../scrub/verify';
import { readSchedule, SCHEDULE_FORMAT, scheduleFile, StoredSchedule } from './store';

// The backend for hosts without systemd (containers, minimal VMs): the
// schedule of each depth is one file in the pool's state dir, fired by the node-cron runner
// (`dfs-scrub-schedule run`). Nothing outside the pool is touched.

export interface StandalonePlan {
  plan: Plan;
  schedule: StoredSchedule;
  file: string;
}

export function planStandaloneApply(req: ScheduleRequest, now: Date): StandalonePlan {
  const file = scheduleFile(req.root, req.depth);
  let previous: StoredSchedule | undefined;
  try {
    previous = readSchedule(req.root, req.depth);
  } catch {
    previous = undefined; // a corrupt file is simply replaced
  }
  const f = req.frequency;
  const schedule: StoredSchedule = {
    format: SCHEDULE_FORMAT,
    ...describeRequest(req),
    poolId: req.poolId,
    source: f.source,
    updatedAt: now.toISOString(),
    // Re-applying the same calendar must not forget a slot missed meanwhile.
    calendarSince: previous && previous.calendar === f.calendar ? previous.calendarSince : now.toISOString(),
  };
  const plan = emptyPlan();
  plan.writes.push({ path: file, content: JSON.stringify(schedule, null, 2) + '\n', mode: 0o644 });
  return { plan, schedule, file };
}

export function planStandaloneRemove(root: string, depth: Depth): { plan: Plan; found: boolean } {
  const plan = emptyPlan();
  const file = scheduleFile(root, depth);
  plan.removes.push(file);
  return { plan, found: fs.existsSync(file) };
}
