import { DISK_STATES } from '../core/pool';
import { DISK_ERROR_KINDS } from '../scrub/disk-errors';
import { PassSummary } from '../scrub/state';
import { DiskView } from '../scrub/disk-view';
import type { Depth } from '../scrub/verify';
import { bytes, duration } from '../text/quantities';
import { healthDocument, poolHealth } from './health';
import { html, Markup } from './html';
import { COMPLETED_OUTCOMES, passProgress, PoolSnapshot, ReadableSnapshot } from './snapshot';
import { ScheduledDepth } from './schedule-view';

// The exporter's `/`: what /metrics and /health say, for a human with a
// browser. One self-contained page from the same snapshots: no script, no
// external asset (the Content-Security-Policy below forbids them), refreshed
// by the browser itself, every value from a pool escaped by `html`.

export const STATUS_PAGE_REFRESH_SECONDS = 10;
/** Nothing but the page itself and its inline style; no script, frame, form or fetch. */
export const STATUS_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE = `
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; padding: 0 1em; color: #1b1f23; background: #fafbfc; }
h1 { font-size: 1.5em; margin: 0 0 .2em; }
h2 { font-size: 1.2em; margin: 0 0 .3em; word-break: break-all; }
h3 { font-size: 1em; margin: 1em 0 .3em; }
nav a { margin-right: 1em; }
section.pool { background: #fff; border: 1px solid #d1d5da; border-left: 6px solid #6a737d; border-radius: 4px; padding: .8em 1em; margin: 1em 0; }
section.healthy { border-left-color: #28a745; } section.degraded { border-left-color: #dbab09; } section.unrecoverable { border-left-color: #d73a49; }
.state { display: inline-block; padding: 0 .5em; border-radius: 3px; color: #fff; background: #6a737d; font-weight: 600; }
.state.healthy, .state.online, .state.clean { background: #28a745; }
.state.degraded, .state.rebuilding, .state.read-only, .state.repaired, .state.paused { background: #b08800; }
.state.unrecoverable, .state.missing, .state.foreign, .state.unreadable, .state.problems, .state.failed { background: #d73a49; }
table { border-collapse: collapse; margin: .2em 0; }
th, td { border: 1px solid #e1e4e8; padding: .15em .6em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { color: #d73a49; font-weight: 600; }
progress { width: 24em; height: 1.1em; vertical-align: middle; }
.muted { color: #6a737d; }
`;

const ago = (iso: string | undefined, now: Date): string => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? `${duration(Math.max(0, (now.getTime() - t) / 1000))} ago` : '';
};

const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

const countCell = (n: number, bad = false) => html`<td class="${bad && n > 0 ? 'n bad' : 'n'}">${n}</td>`;

function extentsTable(snap: ReadableSnapshot): Markup {
  const h = snap.state.health;
  return html`<table class="extents"><tr><th>healthy</th><th>degraded</th><th>unrecoverable</th></tr>
<tr>${countCell(h.healthy)}${countCell(h.degraded, true)}${countCell(h.unrecoverable, true)}</tr></table>`;
}

function passInProgress(snap: ReadableSnapshot, now: Date): Markup {
  const cur = snap.state.current;
  if (!cur) return html`<p class="pass muted">No pass in progress.</p>`;
  const { ratio, etaSeconds } = passProgress(cur);
  const eta = etaSeconds === undefined ? 'ETA not known yet' : `ETA ${duration(etaSeconds)}`;
  const work = cur.bytesTotal > 0 ? `, ${bytes(cur.bytesDone)} of ${bytes(cur.bytesTotal)}` : '';
  return html`<p class="pass"><progress max="1" value="${ratio.toFixed(4)}">${percent(ratio)}</progress>
<span class="progress">${percent(ratio)}</span> (${cur.extentsDone}/${cur.extentsTotal} extents${work}), <span class="eta">${eta}</span><br>
<span class="muted">${cur.mode} pass by ${cur.runner}, started ${cur.startedAt} (${ago(cur.startedAt, now)})</span></p>`;
}

/** The schedule, and whether the pass it should have brought is late. */
function scheduleCell(schedule: ScheduledDepth | undefined, pass: PassSummary | undefined, now: Date): Markup {
  if (!schedule) return html`<td class="muted">not scheduled</td>`;
  const finished = pass && COMPLETED_OUTCOMES.has(pass.outcome) ? Date.parse(pass.finishedAt) : NaN;
  // Before its first completed pass a pool is not called late: ScrubOverdue counts that from its creation.
  const late = now.getTime() - finished > schedule.intervalSeconds * 1000;
  return html`<td>${schedule.calendar} <span class="muted">(at most ${duration(schedule.intervalSeconds)} apart)</span>${late ? html` <span class="state failed">overdue</span>` : ''}</td>`;
}

function scrubRow(depth: Depth, pass: PassSummary | undefined, schedule: ScheduledDepth | undefined, now: Date): Markup {
  const plan = scheduleCell(schedule, pass, now);
  if (!pass) return html`<tr><td>${depth}</td><td colspan="6" class="muted">none yet</td>${plan}</tr>`;
  return html`<tr><td>${depth}</td><td>${pass.finishedAt} <span class="muted">(${ago(pass.finishedAt, now)})</span></td>
<td><span class="state ${pass.outcome}">${pass.outcome}</span></td><td>${duration(pass.durationSeconds)}</td>
${countCell(pass.extentsScanned)}${countCell(pass.issuesFound, true)}${countCell(pass.repairsSuccessful)}${plan}</tr>`;
}

function lastScrubs(snap: ReadableSnapshot, now: Date): Markup {
  const schedule = (depth: Depth) => snap.schedules.find((s) => s.depth === depth);
  return html`<table class="scrubs"><tr><th>depth</th><th>finished</th><th>outcome</th><th>took</th><th>extents</th><th>issues</th><th>repaired</th><th>schedule</th></tr>
${scrubRow('deep', snap.state.lastPass, schedule('deep'), now)}${scrubRow('light', snap.state.lastLight, schedule('light'), now)}</table>`;
}

function daemonLine(snap: ReadableSnapshot): Markup {
  const d = snap.daemon;
  if (!d.running) return html`<p class="daemon">Daemon: <span class="muted">not running</span></p>`;
  return html`<p class="daemon">Daemon: <span class="state online">running</span> (PID ${d.pid}, intensity ${d.intensity ?? '?'})${
    d.paused ? html` <span class="state paused">paused</span>` : ''}${d.throttled ? html` <span class="state paused">throttled</span> ${d.throttled}` : ''}</p>`;
}

function resilverCell(v: DiskView): Markup {
  if (v.state !== 'rebuilding' || !v.resilver) return html`<td></td>`;
  const ratio = v.resilver.pass?.ratio ?? 0;
  return html`<td><progress max="1" value="${ratio.toFixed(4)}">${percent(ratio)}</progress> ${percent(ratio)}</td>`;
}

function disksTable(snap: ReadableSnapshot): Markup {
  const byState = DISK_STATES.filter((s) => snap.disks[s] > 0).map((s) => `${snap.disks[s]} ${s}`).join(', ');
  const rows = snap.diskViews.map(
    (v) => html`<tr><td class="n">${v.index}</td><td>${v.path}</td><td><span class="state ${v.state}">${v.state}</span></td>
${DISK_ERROR_KINDS.map((k) => countCell(v.errors?.[k] ?? 0, true))}<td class="n">${v.quarantine.entries}</td>${resilverCell(v)}</tr>`,
  );
  return html`<p>${byState}</p><table class="disks"><tr><th>#</th><th>path</th><th>state</th><th>read</th><th>checksum</th><th>write</th><th>quarantined</th><th>resilver</th></tr>
${rows}</table>`;
}

function poolSection(snap: PoolSnapshot, now: Date): Markup {
  const health = poolHealth(snap);
  const heading = html`<h2><span class="state ${health.state}">${health.state}</span> ${snap.path}</h2>`;
  if (!snap.ok) return html`<section class="pool unknown">${heading}<p>Cannot be read: ${snap.error}</p></section>`;
  return html`<section class="pool ${health.state}">${heading}
<p>${health.reason}. <span class="muted">Pool ${snap.pool.config.id}, default ${snap.pool.config.redundancy}.</span></p>
${extentsTable(snap)}
<h3>Pass in progress</h3>${passInProgress(snap, now)}
<h3>Last scrubs</h3>${lastScrubs(snap, now)}
${daemonLine(snap)}
<h3>Disks</h3>${disksTable(snap)}
</section>`;
}

/** The whole page, a complete HTML document. */
export function renderStatusPage(snapshots: readonly PoolSnapshot[], now = new Date()): string {
  const doc = healthDocument(snapshots, now);
  return html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${STATUS_PAGE_REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DynamicFS: ${doc.state}</title>
<style>${new Markup(STYLE)}</style></head>
<body><header><h1>DynamicFS scrub status: <span class="state ${doc.state}">${doc.state}</span></h1>
<p class="muted">${snapshots.length} pool(s), read at ${doc.checkedAt}; this page refreshes every ${STATUS_PAGE_REFRESH_SECONDS} s.</p>
<nav><a href="/metrics">/metrics</a> <a href="/health">/health</a></nav></header>
${snapshots.map((s) => poolSection(s, now))}
</body></html>
`.text;
}
