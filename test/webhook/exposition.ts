// A small reader of the Prometheus text exposition (format 0.0.4), so tests assert on what a
// scraper reads rather than on prom-client's objects.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** `# TYPE` of each metric family. */
  readonly types: ReadonlyMap<string, string>;
  /** `# HELP` of each metric family, unescaped. */
  readonly help: ReadonlyMap<string, string>;
  /** The value of the one sample with this name and exactly these labels; undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of this name whose labels include `labels`. */
  select(name: string, labels?: Record<string, string>): Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;
const unescape = (s: string) => s.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  let read = 0;
  for (let m = LABEL.exec(text); m !== null; m = LABEL.exec(text)) {
    labels[m[1] as string] = unescape(m[2] as string);
    read = LABEL.lastIndex;
  }
  if (read !== text.length) throw new Error(`unreadable labels in exposition line: ${line}`);
  return labels;
}

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  const value = Number(text);
  // prom-client writes NaN as "Nan"; Prometheus reads it with Go's ParseFloat, case-insensitively.
  if (text.toLowerCase() === 'nan') return NaN;
  if (Number.isNaN(value)) throw new Error(`unreadable value in exposition line: ${line}`);
  return value;
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment !== null) {
      (comment[1] === 'TYPE' ? types : help).set(comment[2] as string, comment[1] === 'HELP' ? unescape(comment[3] as string) : (comment[3] as string));
      continue;
    }
    // Any other comment is ignored, as the format says.
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`unreadable exposition line: ${line}`);
    samples.push({ name: m[1] as string, labels: m[2] === undefined ? {} : parseLabels(m[2], line), value: parseValue(m[3] as string, line) });
  }
  const includes = (have: Readonly<Record<string, string>>, want: Record<string, string>) => Object.entries(want).every(([k, v]) => have[k] === v);
  const select = (name: string, labels: Record<string, string> = {}) => samples.filter((s) => s.name === name && includes(s.labels, labels));
  return {
    samples,
    types,
    help,
    select,
    value(name, labels = {}) {
      const found = select(name, labels).filter((s) => Object.keys(s.labels).length === Object.keys(labels).length);
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} with labels ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
  };
}
