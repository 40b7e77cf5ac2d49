// The shipped Grafana dashboard as the tests read it: its panels' queries and
// variables, and Grafana's substitution of the variables, so that a query can
// be run on a real Prometheus exactly as Grafana would send it.

import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers';

export const DASHBOARD = path.join(repoRoot, 'src', 'metrics', 'grafana', 'dynamicfs.json');

export interface PanelTarget {
  panel: string;
  refId: string;
  expr: string;
  instant: boolean;
}

export interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { name: string; type: string; query: unknown; definition?: string; multi?: boolean; includeAll?: boolean }[] };
  panels: { id: number; type: string; title: string; datasource?: { type: string; uid: string }; panels?: Dashboard['panels']; targets?: { refId: string; expr: string; instant?: boolean; datasource?: { uid: string } }[] }[];
}

export const readDashboard = (): Dashboard => JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** Every panel below the top, rows' collapsed panels included. */
export function allPanels(d: Dashboard): Dashboard['panels'] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export function panelTargets(d: Dashboard): PanelTarget[] {
  return allPanels(d).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr, instant: !!t.instant })));
}

/** A query variable's PromQL: `label_values(SELECTOR, LABEL)` as Grafana's Prometheus data source reads it. */
export function labelValuesQuery(query: unknown): { selector: string; label: string } {
  const text = typeof query === 'string' ? query : (query as { query: string }).query;
  const m = /^label_values\((.*),\s*(\w+)\)$/.exec(text.trim());
  if (!m) throw new Error(`not a label_values() query: ${text}`);
  return { selector: m[1], label: m[2] };
}

/**
 * Grafana's value of a multi-value variable in a Prometheus regex matcher:
 * `(a|b)` with regex characters escaped, backslashes doubled for PromQL's string.
 */
export function multiValue(values: string[]): string {
  const escaped = values.map((v) => v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&'));
  return escaped.length === 1 ? escaped[0] : `(${escaped.join('|')})`;
}

/** The query with dashboard variables ($name, ${name}) and Grafana's built-in intervals replaced. */
export function substitute(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare!;
    if (!(name in vars)) throw new Error(`${whole} in "${expr}" has no value`);
    return vars[name];
  });
}

/** Grafana's built-ins for a scrape interval of 1 s over the last few minutes. */
export const BUILTIN_INTERVALS: Record<string, string> = { __rate_interval: '15s', __interval: '5s', __range: '5m', __range_s: '300' };
