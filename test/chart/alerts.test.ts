// The chart's PrometheusRule and Grafana dashboard, rendered by helm, schema-checked, and their
// expressions run by the real promtool: `check rules` parses every rule, `test rules` evaluates
// every alert against the webhook's own /metrics samples (fixtures/metrics/, recorded by
// scripts/record-metrics.mjs), each replayed as one minute of its traffic, sustained. `up` is
// Prometheus's own series, so it is made here: 1 while scraped, 0 when every replica is down,
// none when there is no target at all.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { NAMESPACE, RELEASE, findObject, repoRoot, template, type K8sObject } from '../helpers/helm.js';
import { runPromtool } from '../helpers/promtool.js';
import { parseExposition } from '../webhook/exposition.js';
import { validateObject } from './manifests.js';
import type { Values } from './scenarios.js';

const JOB = `${RELEASE}-kubevirt-vhostuser`; // the Service name, which the ServiceMonitor's targets carry as job
// The labels a ServiceMonitor target's series get besides their own.
const TARGET = { job: JOB, namespace: NAMESPACE, instance: '10.244.1.7:8444', pod: `${JOB}-7d9f8c6b5-x2k4q`, service: JOB };
const STEPS = 60;
const EVAL_AT = '40m';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Series {
  series: string;
  values: string;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'alerts-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function renderRules(values: Values = {}): Promise<Rule[]> {
  const rule = findObject(await template({ values: { 'prometheusRule.enabled': true, ...values } }), 'PrometheusRule');
  validateObject(rule);
  const groups = (rule['spec'] as { groups: { name: string; rules: Rule[] }[] }).groups;
  expect(groups).toHaveLength(1);
  return groups[0]?.rules ?? [];
}

const labelText = (labels: Record<string, string>) =>
  `{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;

/**
 * A recorded sample as promtool input series: counters (and histogram buckets, sums, counts)
 * grow by their recorded value each minute, gauges stay; *_timestamp_seconds gauges are taken
 * relative to the recording, since promtool's clock starts at 0.
 */
function seriesOf(file: string): Series[] {
  const text = readFileSync(path.join(repoRoot, 'fixtures', 'metrics', file), 'utf8');
  const recordedAt = Number(/^# recorded at ([0-9.]+) /.exec(text)?.[1]);
  expect(recordedAt).toBeGreaterThan(0);
  const m = parseExposition(text);
  const family = (name: string) => {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return base !== name && m.types.get(base) === 'histogram' ? base : name;
  };
  return m.samples
    .filter((s) => Number.isFinite(s.value))
    .map((s) => {
      const counter = ['counter', 'histogram'].includes(m.types.get(family(s.name)) ?? '');
      const value = s.name.endsWith('_timestamp_seconds') ? s.value - recordedAt : s.value;
      return { series: `${s.name}${labelText({ ...s.labels, ...TARGET })}`, values: counter ? `0+${value}x${STEPS}` : `${value}x${STEPS}` };
    });
}

const upSeries = (value: 0 | 1): Series => ({ series: `up${labelText(TARGET)}`, values: `${value}x${STEPS}` });

async function promtoolTest(name: string, rules: Rule[], input: Series[], alertTests: unknown[]): Promise<void> {
  const rulesFile = `${name}.rules.yaml`;
  await writeFile(path.join(dir, rulesFile), stringify({ groups: [{ name: 'under-test', rules }] }));
  const checked = await runPromtool(['check', 'rules', rulesFile], dir);
  expect(checked.code, checked.stdout + checked.stderr).toBe(0);
  const testFile = `${name}.test.yaml`;
  await writeFile(
    path.join(dir, testFile),
    stringify({ rule_files: [rulesFile], evaluation_interval: '1m', tests: [{ interval: '1m', input_series: input, alert_rule_test: alertTests }] }),
  );
  const run = await runPromtool(['test', 'rules', testFile], dir);
  expect(run.code, run.stdout + run.stderr).toBe(0);
  expect(run.stdout).toContain('SUCCESS');
}

const ALERTS = {
  down: 'KubevirtVhostuserWebhookDown',
  errors: 'KubevirtVhostuserWebhookErrors',
  slow: 'KubevirtVhostuserWebhookSlow',
  forged: 'KubevirtVhostuserForgedLauncherPods',
  certificate: 'KubevirtVhostuserWebhookCertificateExpiring',
} as const;
type AlertKey = keyof typeof ALERTS;

/** The alert_rule_test entries: every alert of the chart, firing with `fires[alert]` extra labels or not at all. */
function expectations(rules: Rule[], fires: Partial<Record<AlertKey, Record<string, string>>>): unknown[] {
  return (Object.keys(ALERTS) as AlertKey[]).map((key) => {
    const rule = rules.find((r) => r.alert === ALERTS[key]);
    expect(rule, ALERTS[key]).toBeDefined();
    const extra = fires[key];
    const exp_alerts =
      extra === undefined ? [] : [{ exp_labels: { ...rule?.labels, namespace: NAMESPACE, job: JOB, ...extra }, exp_annotations: rule?.annotations }];
    return { eval_time: EVAL_AT, alertname: ALERTS[key], exp_alerts };
  });
}

describe('PrometheusRule', () => {
  it('is rendered only when asked, schema-valid, with the five alerts promtool accepts', async () => {
    expect((await template()).some((o) => o.kind === 'PrometheusRule')).toBe(false);
    const rules = await renderRules();
    expect(rules.map((r) => r.alert)).toEqual(Object.values(ALERTS));
    await writeFile(path.join(dir, 'chart.rules.yaml'), stringify({ groups: [{ name: 'chart', rules }] }));
    const run = await runPromtool(['check', 'rules', 'chart.rules.yaml'], dir);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('SUCCESS: 5 rules found');
  });

  it('alerts on nothing while the webhook is healthy', async () => {
    const rules = await renderRules();
    await promtoolTest('healthy', rules, [...seriesOf('healthy.prom'), upSeries(1)], expectations(rules, {}));
  });

  it('alerts on errors, latency near the timeout, forged launcher pods and a certificate with 3 days left', async () => {
    const rules = await renderRules();
    await promtoolTest('failing', rules, [...seriesOf('failing.prom'), upSeries(1)], expectations(rules, { errors: {}, slow: {}, forged: { reason: 'user' }, certificate: {} }));
  });

  it('alerts when every replica is down, and when there is no target at all', async () => {
    const rules = await renderRules();
    await promtoolTest('down', rules, [upSeries(0)], expectations(rules, { down: {} }));
    await promtoolTest('absent', rules, [], expectations(rules, { down: {} }));
  });

  it('takes its thresholds from the values: raised above the failing sample, only the forged pods alert', async () => {
    const values = { 'prometheusRule.errorRatio': 0.5, 'prometheusRule.latencyTimeoutFraction': 0.95, 'prometheusRule.certificateExpiryDays': 2 };
    const rules = await renderRules(values);
    await promtoolTest('raised', rules, [...seriesOf('failing.prom'), upSeries(1)], expectations(rules, { forged: { reason: 'user' } }));
  });

  it('measures latency against webhook.timeoutSeconds: a 30 s timeout does not find 9 s slow', async () => {
    const rules = await renderRules({ 'webhook.timeoutSeconds': 30, 'webhook.lookupTimeoutMs': 2000 });
    expect(rules.find((r) => r.alert === ALERTS.slow)?.expr).toMatch(/> 15$/);
    await promtoolTest('long-timeout', rules, [...seriesOf('failing.prom'), upSeries(1)], expectations(rules, { errors: {}, forged: { reason: 'user' }, certificate: {} }));
  });

  it('adds alertLabels to every alert, its labels to the object, and selects series by the given matchers', async () => {
    const rules = await renderRules({ 'prometheusRule.alertLabels': { team: 'net' }, 'prometheusRule.selector': `job="${JOB}"` });
    for (const r of rules) {
      expect(r.labels?.['team'], r.alert).toBe('net');
      expect(r.expr, r.alert).not.toContain('namespace="');
    }
    const obj = findObject(await template({ values: { 'prometheusRule.enabled': true, 'prometheusRule.labels': { release: 'prometheus' } } }), 'PrometheusRule');
    expect(obj.metadata.labels?.['release']).toBe('prometheus');
  });
});

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource: { type: string; uid: string };
  targets: { refId: string; expr: string; datasource: { uid: string } }[];
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string }[] };
}

async function renderDashboard(values: Values = {}): Promise<{ configMap: K8sObject; dashboard: Dashboard }> {
  const configMap = findObject(await template({ values: { 'grafanaDashboard.enabled': true, ...values } }), 'ConfigMap');
  validateObject(configMap);
  const data = configMap['data'] as Record<string, string>;
  expect(Object.keys(data)).toEqual(['kubevirt-vhostuser-webhook.json']);
  return { configMap, dashboard: JSON.parse(data['kubevirt-vhostuser-webhook.json'] ?? '') as Dashboard };
}

describe('Grafana dashboard', () => {
  it('is a ConfigMap the Grafana sidecar picks up, only when asked', async () => {
    expect((await template()).some((o) => o.kind === 'ConfigMap')).toBe(false);
    const { configMap } = await renderDashboard({ 'grafanaDashboard.namespace': 'monitoring', 'grafanaDashboard.annotations': { grafana_folder: 'Networking' } });
    expect(configMap.metadata.labels?.['grafana_dashboard']).toBe('1');
    expect(configMap.metadata.namespace).toBe('monitoring');
    expect(configMap.metadata.annotations).toEqual({ grafana_folder: 'Networking' });
  });

  it('has the fields Grafana needs: unique panel ids, a grid place, a data source and targets for each panel', async () => {
    const { dashboard } = await renderDashboard();
    expect(dashboard).toMatchObject({ title: expect.any(String), uid: 'kubevirt-vhostuser-webhook', schemaVersion: expect.any(Number) });
    expect(dashboard.uid.length).toBeLessThanOrEqual(40);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const variables = new Set(dashboard.templating.list.map((v) => v.name));
    expect([...variables].sort()).toEqual(['datasource', 'job', 'namespace']);
    for (const p of dashboard.panels) {
      expect(['stat', 'timeseries'], p.title).toContain(p.type);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.datasource.uid, p.title).toBe('${datasource}');
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) {
        expect(t.datasource.uid).toBe('${datasource}');
        // Only the dashboard's own variables and Grafana's built-in intervals.
        for (const [, name] of t.expr.matchAll(/\$(\w+)/g)) expect([...variables, '__rate_interval', '__range'], `${p.title}: $${name}`).toContain(name);
      }
    }
    // Panels do not overlap.
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('has only queries promtool parses, each returning data on the failing sample', async () => {
    const { dashboard } = await renderDashboard();
    const rules: Rule[] = [];
    const tests: unknown[] = [];
    for (const p of dashboard.panels) {
      for (const t of p.targets) {
        const expr = t.expr.replaceAll('$namespace', NAMESPACE).replaceAll('$job', JOB).replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1h');
        const record = `dashboard:panel_${p.id}_${t.refId}`;
        const alert = `EmptyPanel${p.id}${t.refId}`;
        // Recording rules run in order within a group, so absent() sees this evaluation's result.
        rules.push({ record, expr }, { alert, expr: `absent(${record})` });
        tests.push({ eval_time: EVAL_AT, alertname: alert, exp_alerts: [] });
      }
    }
    expect(rules.length).toBeGreaterThanOrEqual(2 * 14);
    await promtoolTest('dashboard', rules, [...seriesOf('failing.prom'), upSeries(1)], tests);
  });
});
