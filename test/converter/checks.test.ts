import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConverterError } from '../../converter/src/errors.js';
import type { ResolvedInterface } from '../../converter/src/model.js';
import { checkInterface, checkInterfaces } from '../../converter/src/xml/index.js';

const samples = JSON.parse(readFileSync(new URL('../../fixtures/domains/interfaces.json', import.meta.url), 'utf8')) as Record<string, ResolvedInterface>;
const base = samples['server-minimal'] as ResolvedInterface;

function errorOf(fn: () => void): ConverterError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConverterError) return err;
    throw err;
  }
  throw new Error('expected a ConverterError');
}

/** Applies a change to the base interface; `undefined` values remove the key. */
function variant(change: Record<string, unknown>): ResolvedInterface {
  const out: Record<string, unknown> = { ...base, ...change };
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out as unknown as ResolvedInterface;
}

describe('checkInterface', () => {
  it.each(Object.keys(samples))('accepts the %s sample', (name) => {
    expect(() => checkInterface(samples[name] as ResolvedInterface)).not.toThrow();
  });

  it.each([
    ['a path of exactly 107 bytes', `/${'a'.repeat(106)}`],
    ['multi-byte characters within 107 bytes', `/${'é'.repeat(53)}`],
    ['spaces, quotes and brackets', `/tmp/a b"'<>&`],
  ])('accepts a socket path with %s', (_label, socketPath) => {
    expect(() => checkInterface(variant({ socketPath }))).not.toThrow();
  });

  it.each(['02:00:00:00:00:01', '52:54:00:EE:96:6B', 'fe:ff:ff:ff:ff:ff'])('accepts the unicast MAC %s', (mac) => {
    expect(() => checkInterface(variant({ mac }))).not.toThrow();
  });

  it.each([256, 512, 1024])('accepts queue size %i', (size) => {
    expect(() => checkInterface(variant({ rxQueueSize: size, txQueueSize: size }))).not.toThrow();
  });

  it.each([1, 256])('accepts %i queues', (queues) => {
    expect(() => checkInterface(variant({ queues }))).not.toThrow();
  });

  const path = (socketPath: string) => ({ socketPath });
  it.each([
    ['a socket path of 108 ASCII bytes', path(`/${'a'.repeat(107)}`), 'E_SOCKET_PATH', 'more than the 107'],
    ['a socket path of 108 UTF-8 bytes in 55 characters', path(`/${'é'.repeat(53)}a`), 'E_SOCKET_PATH', '108 bytes'],
    ['a relative socket path', path('var/lib/sock'), 'E_SOCKET_PATH', 'not absolute'],
    ['an empty socket path', path(''), 'E_SOCKET_PATH', 'empty'],
    ['a .. segment', path('/var/lib/../sock'), 'E_SOCKET_PATH', 'not normalized'],
    ['a . segment', path('/var/./sock'), 'E_SOCKET_PATH', 'not normalized'],
    ['a double slash', path('/var//sock'), 'E_SOCKET_PATH', 'not normalized'],
    ['a trailing slash', path('/var/lib/'), 'E_SOCKET_PATH', 'names a directory'],
    ['a newline in the path', path('/var/lib/so\nck'), 'E_SOCKET_PATH', 'control'],
    ['a NUL in the path', path('/var/lib/so\u0000ck'), 'E_SOCKET_PATH', 'control'],
    ['DEL in the path', path('/var/lib/so\u007fck'), 'E_SOCKET_PATH', 'control'],
    ['a C1 control in the path', path('/var/lib/so\u0085ck'), 'E_SOCKET_PATH', 'control'],
    ['a lone surrogate in the path', path('/var/lib/so\ud800ck'), 'E_SOCKET_PATH', 'non-XML'],
    ['U+FFFE in the path', path('/var/lib/so\ufffeck'), 'E_SOCKET_PATH', 'non-XML'],
    ['a MAC of five octets', { mac: '52:54:00:00:00' }, 'E_MAC', 'six hex octets'],
    ['a MAC with dashes', { mac: '52-54-00-00-00-01' }, 'E_MAC', 'six hex octets'],
    ['a MAC with a non-hex digit', { mac: '52:54:00:00:00:0g' }, 'E_MAC', 'six hex octets'],
    ['a multicast MAC', { mac: '01:00:5e:00:00:01' }, 'E_MAC', 'multicast'],
    ['the broadcast MAC', { mac: 'ff:ff:ff:ff:ff:ff' }, 'E_MAC', 'multicast'],
    ['rx_queue_size 128', { rxQueueSize: 128 }, 'E_QUEUE_SIZE', 'rx_queue_size'],
    ['rx_queue_size 2048', { rxQueueSize: 2048 }, 'E_QUEUE_SIZE', 'rx_queue_size'],
    ['rx_queue_size NaN', { rxQueueSize: Number.NaN }, 'E_QUEUE_SIZE', 'rx_queue_size'],
    ['tx_queue_size 768', { txQueueSize: 768 }, 'E_QUEUE_SIZE', 'tx_queue_size'],
    ['tx_queue_size 512.5', { txQueueSize: 512.5 }, 'E_QUEUE_SIZE', 'tx_queue_size'],
    ['0 queues', { queues: 0 }, 'E_CONFIG', 'queues'],
    ['257 queues', { queues: 257 }, 'E_CONFIG', 'queues'],
    ['1.5 queues', { queues: 1.5 }, 'E_CONFIG', 'queues'],
    ['a mode libvirt does not know', { mode: 'bogus' }, 'E_MODE', 'neither server nor client'],
    ['a non-virtio model', { model: 'e1000' }, 'E_VMI_INVALID', 'not a virtio model'],
    ['an interface name with a dot (libvirt drops such aliases)', { vmiInterface: 'net.1' }, 'E_VMI_INVALID', 'cannot form a libvirt alias'],
    ['an interface name with a quote', { vmiInterface: "a'b" }, 'E_VMI_INVALID', 'cannot form a libvirt alias'],
    ['an empty interface name', { vmiInterface: '' }, 'E_VMI_INVALID', 'cannot form a libvirt alias'],
    ['an MTU below 68', { mtu: 67 }, 'E_ANNOTATION_SCHEMA', 'MTU'],
    ['an MTU above 65535', { mtu: 65536 }, 'E_ANNOTATION_SCHEMA', 'MTU'],
    ['a PCI slot above 0x1f', { pciAddress: { domain: '0x0000', bus: '0x00', slot: '0x20', function: '0x0' } }, 'E_VMI_INVALID', 'slot'],
    ['a PCI function above 7', { pciAddress: { domain: '0x0000', bus: '0x00', slot: '0x01', function: '0x8' } }, 'E_VMI_INVALID', 'function'],
    ['a PCI bus without 0x', { pciAddress: { domain: '0x0000', bus: '02', slot: '0x01', function: '0x0' } }, 'E_VMI_INVALID', 'bus'],
    ['ACPI index 0', { acpiIndex: 0 }, 'E_VMI_INVALID', 'ACPI index'],
    ['ACPI index 16384', { acpiIndex: 16384 }, 'E_VMI_INVALID', 'ACPI index'],
    ['boot order 0', { bootOrder: 0 }, 'E_VMI_INVALID', 'boot order'],
  ])('rejects %s', (_label, change, code, words) => {
    const err = errorOf(() => checkInterface(variant(change)));
    expect(err.code).toBe(code);
    expect(err.details.iface).toBe('vmiInterface' in change ? change.vmiInterface : 'net1');
    expect(err.details.hint).toMatch(/\w/);
    expect(err.message).toContain(words);
    expect(err.message).not.toMatch(/[\p{Cc}\p{Cs}]/u);
  });

  it('names the interface and the fix in one line', () => {
    const err = errorOf(() => checkInterface(variant({ socketPath: `/${'x'.repeat(120)}` })));
    expect(err.message).toMatchInlineSnapshot(
      `"interface 'net1': socket path is 121 bytes, more than the 107 a unix socket allows (hint: use a shorter socket directory (mapped-dir / shared-dir mount) or socket file name)"`,
    );
  });

  it('keeps a hostile interface name out of the message', () => {
    const err = errorOf(() => checkInterface(variant({ vmiInterface: 'a\nb\u0000' })));
    expect(err.message).not.toMatch(/[\n\u0000]/);
    expect(err.details.iface).toBe('a?b?');
  });
});

describe('checkInterfaces', () => {
  it('accepts distinct interfaces', () => {
    expect(() => checkInterfaces(Object.values(samples))).not.toThrow();
  });

  const first = variant({ mac: '02:00:00:00:00:0a', bootOrder: 1, acpiIndex: 1, pciAddress: { domain: '0x0000', bus: '0x01', slot: '0x02', function: '0x0' } });
  const other = { vmiInterface: 'net9', socketPath: '/other', mac: '02:00:00:00:00:09', bootOrder: 2, acpiIndex: 2, pciAddress: { domain: '0x0000', bus: '0x01', slot: '0x03', function: '0x0' } };

  it.each([
    ['the same interface name', { vmiInterface: 'net1' }, 'E_VMI_INVALID', 'interface name "net1"'],
    ['the same socket path', { socketPath: base.socketPath }, 'E_SOCKET_PATH', 'socket path'],
    ['the same MAC in another case', { mac: '02:00:00:00:00:0A' }, 'E_MAC', 'MAC "02:00:00:00:00:0a"'],
    ['the same boot order', { bootOrder: 1 }, 'E_VMI_INVALID', 'boot order "1"'],
    ['the same ACPI index', { acpiIndex: 1 }, 'E_VMI_INVALID', 'ACPI index "1"'],
    ['the same PCI address, written differently', { pciAddress: { domain: '0x0', bus: '0x1', slot: '0x2', function: '0x0' } }, 'E_VMI_INVALID', 'PCI address'],
  ])('rejects two interfaces with %s', (_label, change, code, words) => {
    expect(() => checkInterfaces([first, { ...first, ...other } as ResolvedInterface])).not.toThrow();
    const err = errorOf(() => checkInterfaces([first, { ...first, ...other, ...change } as ResolvedInterface]));
    expect(err.code).toBe(code);
    expect(err.message).toContain(words);
    expect(err.message).toContain('is used by another interface too');
  });
});
