// Types of bench/body-flood.js, for test/reliability/body-budget.test.ts.
export interface BodyFloodOptions {
  /** Clients that each start an upload and stall just before its end. */
  readonly uploads?: number;
  /** Body size each upload declares (or, chunked, sends). */
  readonly uploadBytes?: number;
  /** How long the uploads hold their connections while real reviews are sent. */
  readonly holdMs?: number;
  /** More webhook flags. */
  readonly args?: readonly string[];
}

export interface BodyFloodResult {
  /** `flood_*` figures, printed by the script as `name: value` lines. */
  readonly figures: Readonly<Record<string, number>>;
  /** The webhook's stderr. */
  readonly stderr: string;
}

/** The chart's resources.limits.memory, in MiB. */
export const CHART_MEMORY_LIMIT_MIB: number;

export function runBodyFlood(options?: BodyFloodOptions): Promise<BodyFloodResult>;
