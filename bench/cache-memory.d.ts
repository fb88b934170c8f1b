// Types of bench/cache-memory.js, for test/reliability/cache-memory.test.ts.
export interface CacheMemoryOptions {
  /** VMIs the API stub generates as its paged list streams. */
  readonly count?: number;
  /** JSON bytes of each VMI, most of it cloud-init user data. */
  readonly itemBytes?: number;
  /** Give up waiting for /readyz after this long. */
  readonly syncTimeoutMs?: number;
  /** Progress lines. */
  readonly say?: (line: string) => void;
}

export interface CacheMemoryResult {
  /** `cache_*` figures, printed by the script as `name: value` lines. */
  readonly figures: Readonly<Record<string, number>>;
  /** The webhook's stderr. */
  readonly stderr: string;
}

/** The chart's resources.limits.memory, in MiB. */
export const CHART_MEMORY_LIMIT_MIB: number;

export function runCacheMemory(options?: CacheMemoryOptions): Promise<CacheMemoryResult>;
