// Slow clients against a real HTTPS listener on 127.0.0.1: a client that never starts TLS, one
// that dribbles its headers, one that dribbles its body, one that idles on keep-alive, and a crowd
// of them at once. The server must cut each off (with shortened limits, so the test is quick)
// and keep answering a well-behaved client meanwhile.
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerTimeouts } from '../../webhook/src/app.js';
import { createDevKeyPair } from '../../webhook/src/tls.js';
import { figure, harness, reviewOf, type Harness } from './helpers.js';

const LIMITS: ServerTimeouts = { handshakeMs: 400, headersMs: 400, requestMs: 800, idleMs: 1_500, keepAliveMs: 600, checkIntervalMs: 100, bodyEvictAfterMs: 1_000 };
let h: Harness;
let port: number;
let ca: string;
const review = JSON.stringify(reviewOf('launcher-v1-binding'));

beforeAll(async () => {
  const pair = await createDevKeyPair();
  ca = pair.cert;
  h = harness([], { https: pair, timeouts: LIMITS });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  port = (h.app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await h.close();
});

/** Resolves with how long the server took to close the socket (the test times out if it never does). */
function closedAfter(socket: Socket): Promise<number> {
  const started = performance.now();
  socket.on('error', () => {}); // a reset is also a close
  return new Promise((resolve) => socket.on('close', () => resolve(Math.round(performance.now() - started))));
}

function secure(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the server writes to `socket`, so far. */
function answerOf(socket: Socket): () => string {
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  return () => answer;
}

/** Writes `text` one byte every `everyMs` until the socket closes. */
function dribble(socket: Socket, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return clearInterval(timer);
    socket.write(text[i++] ?? '');
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}

/** One well-behaved admission over a new connection. */
function goodRequest(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, servername: 'localhost', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(review);
  });
}

const HEAD = `POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${review.length}\r\n\r\n`;

describe('slow clients against the HTTPS listener', () => {
  it('cuts off a client that connects and never starts TLS', async () => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    figure('slowloris: no TLS handshake cut after ms', await closedAfter(s));
    expect(s.destroyed).toBe(true);
  });

  it('cuts off a client that dribbles its headers, and says 408 if it can', async () => {
    const s = await secure();
    const answer = answerOf(s);
    dribble(s, HEAD, 150);
    figure('slowloris: dribbled headers cut after ms', await closedAfter(s));
    expect(answer() === '' || answer().startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('cuts off a client that sends its headers and dribbles the body', async () => {
    const s = await secure();
    s.write(HEAD);
    dribble(s, review, 150);
    figure('slowloris: dribbled body cut after ms', await closedAfter(s));
    expect(s.destroyed).toBe(true);
  });

  it('closes an idle keep-alive connection after a complete request', async () => {
    const s = await secure();
    const answer = answerOf(s);
    s.write(HEAD + review);
    figure('slowloris: idle keep-alive closed after ms', await closedAfter(s));
    expect(answer()).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('keeps serving well-behaved clients while 60 slow ones hold connections, then cuts them all', async () => {
    const crowd: Promise<number>[] = [];
    for (let i = 0; i < 20; i++) crowd.push(closedAfter(tcpConnect({ host: '127.0.0.1', port })));
    for (let i = 0; i < 20; i++) {
      const s = await secure();
      crowd.push(closedAfter(s));
      dribble(s, HEAD, 100);
    }
    for (let i = 0; i < 20; i++) {
      const s = await secure();
      crowd.push(closedAfter(s));
      s.write(HEAD);
      dribble(s, review, 100);
    }
    const served: number[] = [];
    for (let i = 0; i < 10; i++) served.push(await goodRequest());
    expect(served).toEqual(Array(10).fill(200));
    const cut = await Promise.all(crowd);
    figure('slowloris: crowd of 60 all cut, slowest after ms', Math.max(...cut));
    expect(cut).toHaveLength(60);
    expect(await goodRequest()).toBe(200);
  });
});
