import kleur from 'kleur';
import { PassProgress, PassReport } from '../scrub/pass';
import { Finding } from '../scrub/finding';
import { bytes, duration, printable, stateColor } from './format';

const OUTCOME_TEXT: Record<PassReport['outcome'], string> = {
  clean: 'no problems found',
  repaired: 'problems found and all repaired',
  problems: 'problems left',
  cancelled: 'cancelled',
  failed: 'failed',
};

function group(findings: Finding[]): Map<string, Finding[]> {
  const m = new Map<string, Finding[]>();
  for (const f of findings) {
    const list = m.get(f.kind) ?? [];
    list.push(f);
    m.set(f.kind, list);
  }
  return m;
}

/** Object names shown under a finding; --json lists them all. */
const OBJECTS_SHOWN = 5;

function objectsLine(names: string[] | undefined): string[] {
  if (!names || names.length === 0) return [];
  const shown = names.slice(0, OBJECTS_SHOWN).map(printable).join(', ');
  const more = names.length > OBJECTS_SHOWN ? ` … and ${names.length - OBJECTS_SHOWN} more` : '';
  return [`      ${names.length === 1 ? 'object' : 'objects'}: ${shown}${more}`];
}

// Paths, details and object names come from the pool, which others may write: escaped.
function line(f: Finding): string {
  const where = f.disk === undefined ? '' : `disk ${printable(f.disk)}  `;
  const what = f.extent ? `extent ${printable(f.extent.slice(0, 12))}…${f.shard === undefined ? '' : ` shard ${printable(f.shard)}`}: ` : '';
  const result = f.result === 'repaired' ? kleur.green('repaired') : f.result === 'failed' ? kleur.red('repair failed') : f.result === 'left' ? kleur.yellow('left') : '';
  return [
    `  ${where}${printable(f.path)}`,
    `      ${what}${printable(f.detail)}${result ? `  [${result}]` : ''}${f.quarantine ? `  (kept in ${printable(f.quarantine)})` : ''}`,
    ...objectsLine(f.objects),
  ].join('\n');
}

/** The text summary: totals, then issues grouped by kind with disk and path, then info. */
export function renderReport(r: PassReport, verboseInfo = false): string {
  const rate = r.durationSeconds > 0 ? r.bytesRead / r.durationSeconds : 0;
  const out = [
    `scrub of ${printable(r.pool)} (${r.depth === 'light' ? 'light, ' : ''}${r.scope === 'known' ? 'known problems only, ' : ''}${r.mode === 'repair' ? 'verify and repair' : 'verify only'}, ${r.intensity})${r.resumed ? ' resumed' : ''}: ${stateColor(r.outcome)} — ${OUTCOME_TEXT[r.outcome]}`,
    `  duration:   ${duration(r.durationSeconds)}, ${bytes(r.bytesRead)} read (${bytes(rate)}/s)`,
    `  extents:    ${r.extents.scanned} of ${r.extents.total} scanned: ${r.extents.healthy} healthy, ${r.extents.degraded} degraded, ${r.extents.unrecoverable} unrecoverable`,
    `  objects:    ${r.objects.total}${r.objects.unreadable ? `, ${r.objects.unreadable} with every manifest copy damaged` : ''}`,
    `  issues:     ${r.issues.length} found, ${r.repairs.successful} of ${r.repairs.attempted} repairs successful`,
  ];
  if (r.depth === 'light') out.push("  depth:      light: each shard's type, size and header; payloads not read (rot inside them takes a deep scrub)");
  if (r.scope === 'known') {
    out.push(r.extents.total === 0 && r.issues.length === 0 ? '  scope:      no known problems: the last passes left none to re-check' : `  scope:      the ${r.extents.total} extents and the manifest copies the last passes left as problems`);
  }
  for (const [kind, list] of group(r.issues)) {
    out.push('', `${kleur.bold(printable(kind))} (${list.length}):`, ...list.slice(0, 50).map(line));
    if (list.length > 50) out.push(`  … and ${list.length - 50} more (--json lists all)`);
  }
  if (r.info.length) {
    const counts = [...group(r.info)].map(([k, l]) => `${l.length} ${printable(k)}`).join(', ');
    out.push('', `for information (no effect on health): ${counts}`);
    for (const [kind, list] of group(r.info)) {
      const shown = verboseInfo ? list : list.slice(0, 5);
      out.push(`${printable(kind)}:`, ...shown.map(line));
      if (shown.length < list.length) out.push(`  … and ${list.length - shown.length} more (--json lists all)`);
    }
  }
  return out.join('\n');
}

/** One line, rewritten in place on a terminal: percent, rate, ETA, issues so far. */
export function progressLine(p: PassProgress): string {
  // A light pass reads headers only: its progress is in extents, not bytes.
  const pct = p.bytesTotal > 0 ? (100 * p.bytesDone) / p.bytesTotal : p.extentsTotal > 0 ? (100 * p.extentsDone) / p.extentsTotal : 100;
  const eta = Number.isFinite(p.etaSeconds) ? duration(p.etaSeconds) : '?';
  return `\r\x1b[K${pct.toFixed(1)}%  ${p.extentsDone}/${p.extentsTotal} extents  ${bytes(p.bytesPerSecond)}/s  ETA ${eta}  issues ${p.issuesFound}`;
}
