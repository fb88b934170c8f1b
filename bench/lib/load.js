// Load generation with autocannon (in the bench's own process, apart from the servers): POSTs
// the review over keep-alive TLS connections and keeps every 2xx response time, in ms with
// sub-ms resolution (autocannon's own latency histogram rounds to whole ms).
import autocannon from 'autocannon';

/**
 * Runs one load. `connections` is the number of requests in flight (one per connection, no
 * pipelining). Stops after `durationS` seconds or `amount` requests; `overallRate` paces it.
 * Throws when any request fails, so a broken server never yields a figure.
 */
export async function runLoad({ url, body, connections, durationS, amount, overallRate, recordLatency = false }) {
  const latencies = [];
  const instance = autocannon({
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    connections,
    pipelining: 1,
    timeout: 10,
    ...(amount === undefined ? { duration: durationS } : { amount }),
    ...(overallRate === undefined ? {} : { overallRate }),
  });
  if (recordLatency) {
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  }
  const result = await instance;
  const failed = result.errors + result.timeouts + result.non2xx;
  if (failed > 0) {
    throw new Error(`${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers out of ${result.requests.sent}`);
  }
  return { requests: result['2xx'], durationS: result.duration, rps: result['2xx'] / result.duration, latencies };
}
