// Types of bench/soak.js, for test/reliability/soak.test.ts.
export interface SoakOptions {
  /** Seconds of load before SIGTERM; the certificate rotates half-way. */
  readonly durationS?: number;
  /** Admission requests per second, sent on the clock whatever the answers do. */
  readonly rate?: number;
  /** Node flags for the webhook; by default the heap node picks under the chart's 256Mi limit. */
  readonly nodeArgs?: readonly string[];
  /** Progress lines. */
  readonly say?: (line: string) => void;
}

export interface SoakResult {
  /** `soak_*` figures, printed by the script as `name: value` lines. */
  readonly figures: Readonly<Record<string, number>>;
  /** `<count> x <kind>: <status> <body>` for each kind of failed request. */
  readonly failures: readonly string[];
}

export function runSoak(options?: SoakOptions): Promise<SoakResult>;
