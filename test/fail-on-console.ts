// Library code never writes to the console: any console call during a test is a failure.
import { afterEach } from 'vitest';

const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
let calls: string[] = [];
for (const m of methods) {
  console[m] = (...args: unknown[]) => {
    calls.push(`console.${m}: ${args.map(String).join(' ')}`);
  };
}
afterEach(() => {
  const seen = calls;
  calls = [];
  if (seen.length > 0) throw new Error(`unexpected console output:\n${seen.join('\n')}`);
});
