// The transport-free core of the hook: VMI parsing, which interfaces are ours, how converter
// errors become statuses, and the per-call wait. The log format: log.test.ts.
import { describe, expect, it } from 'vitest';
import { ConverterError, type ConverterErrorCode } from '../../converter/src/errors.js';
import { HookError, onDefineDomain, parseVmi, vhostUserInterfaceNames, type OnDefineDomainDeps } from '../../sidecar/src/on-define-domain.js';
import { boundedWait } from '../../sidecar/src/server.js';

const vmi = {
  metadata: { name: 'vm1', namespace: 'vms' },
  spec: { domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }, { name: 'dpdk0', binding: { name: 'vhostuser' } }] } } },
};
const DOMAIN = '<domain><devices/></domain>';

/** Deps whose converter fails with `err`. */
const failingWith = (err: unknown): OnDefineDomainDeps => ({
  bindingNames: ['vhostuser'],
  rewrite: () => Promise.reject(err),
});

async function hookError(p: Promise<unknown>): Promise<HookError> {
  const err: unknown = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof HookError)) throw new Error(`expected a HookError, got ${String(err)}`);
  return err;
}

describe('onDefineDomain', () => {
  it('hands the converter the domain, the parsed VMI, the wait and the binding names', async () => {
    const seen: unknown[] = [];
    const deps: OnDefineDomainDeps = { bindingNames: ['vhostuser', 'dpdk'], rewrite: async (req) => (seen.push(req), { domainXml: `${req.domainXml}!`, interfaces: [] }) };
    await expect(onDefineDomain(DOMAIN, JSON.stringify(vmi), deps, 1234)).resolves.toEqual({ domainXml: `${DOMAIN}!`, vmi: 'vms/vm1', interfaces: [] });
    expect(seen).toEqual([{ domainXml: DOMAIN, vmi, waitMs: 1234, bindingNames: ['vhostuser', 'dpdk'] }]);
  });

  it('never calls the converter for a VMI without (live) vhost-user interfaces', async () => {
    const none = { ...vmi, spec: { domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }, { name: 'gone', vhostuser: {}, state: 'absent' }] } } } };
    await expect(onDefineDomain('anything, even <not xml', JSON.stringify(none), failingWith(new Error('called')), 0)).resolves.toEqual({
      domainXml: 'anything, even <not xml',
      vmi: 'vms/vm1',
      interfaces: [],
    });
  });

  it('rejects a VMI the converter cannot read before calling it', async () => {
    const err = await hookError(onDefineDomain(DOMAIN, '{"metadata":{"name":"vm1"}}', failingWith(new Error('called')), 0));
    expect({ status: err.status, code: err.code }).toEqual({ status: 'INVALID_ARGUMENT', code: 'E_VMI_INVALID' });
    expect(err.message).toMatch(/^VMI vm1 spec: Invalid input/);
  });

  const statuses: [ConverterErrorCode, string][] = [
    ['E_VMI_INVALID', 'INVALID_ARGUMENT'],
    ['E_NETWORK_NOT_FOUND', 'INVALID_ARGUMENT'],
    ['E_NOT_MULTUS', 'INVALID_ARGUMENT'],
    ['E_MAC', 'INVALID_ARGUMENT'],
    ['E_QUEUE_SIZE', 'INVALID_ARGUMENT'],
    ['E_DOMAIN_XML', 'INVALID_ARGUMENT'],
    ['E_MEMORY_PRIVATE', 'INVALID_ARGUMENT'],
    ['E_PODINFO_READ', 'FAILED_PRECONDITION'],
    ['E_PODINFO_SYNTAX', 'FAILED_PRECONDITION'],
    ['E_ANNOTATION_JSON', 'FAILED_PRECONDITION'],
    ['E_ANNOTATION_SCHEMA', 'FAILED_PRECONDITION'],
    ['E_POD_INTERFACE_NOT_FOUND', 'FAILED_PRECONDITION'],
    ['E_SOCKET_NOT_FOUND', 'FAILED_PRECONDITION'],
    ['E_SOCKET_PATH', 'FAILED_PRECONDITION'],
    ['E_MODE', 'FAILED_PRECONDITION'],
    ['E_CONFIG', 'FAILED_PRECONDITION'],
    ['E_TIMEOUT', 'DEADLINE_EXCEEDED'],
  ];
  it.each(statuses)('answers %s with %s, prefixing the VMI to the converter message', async (code, status) => {
    const err = await hookError(onDefineDomain(DOMAIN, JSON.stringify(vmi), failingWith(new ConverterError(code, "interface 'dpdk0': broken")), 0));
    expect({ status: err.status, code: err.code, message: err.message }).toEqual({ status, code, message: "VMI vms/vm1: interface 'dpdk0': broken" });
  });

  it('answers INTERNAL for anything else, naming the interfaces it was working on', async () => {
    const err = await hookError(onDefineDomain(DOMAIN, JSON.stringify(vmi), failingWith(new TypeError('x is undefined')), 0));
    expect(err.status).toBe('INTERNAL');
    expect(err.message).toBe('VMI vms/vm1: unexpected failure rewriting interfaces dpdk0: x is undefined');
  });
});

describe('parseVmi', () => {
  it.each([
    ['', /^the VMI is not valid JSON: Unexpected end of JSON input$/],
    ['null', /^the VMI JSON is null; expected a VirtualMachineInstance object$/],
    ['"vmi"', /^the VMI JSON is a string; expected/],
    ['[{}]', /^the VMI JSON is an array; expected/],
  ])('rejects %j as INVALID_ARGUMENT', (text, message) => {
    const err = (() => {
      try {
        parseVmi(text);
      } catch (e) {
        return e as HookError;
      }
      throw new Error('expected a failure');
    })();
    expect(err.status).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(message);
  });
});

describe('vhostUserInterfaceNames', () => {
  it('lists both dialects and the served binding names in spec order, as the converter does', () => {
    const interfaces = [
      { name: 'a', binding: { name: 'extra' } },
      { name: 'b', masquerade: {} },
      { name: 'c', vhostuser: {} },
      { name: 'd', binding: { name: 'passt' } },
      { name: 'e', binding: { name: 'vhostuser' }, state: 'absent' },
    ];
    const v = { spec: { domain: { devices: { interfaces } } } };
    expect(vhostUserInterfaceNames(v, ['vhostuser', 'extra'], 'VMI x')).toEqual(['a', 'c']);
    // A VirtualMachine is read through its template, like the converter's CLI reads it.
    expect(vhostUserInterfaceNames({ kind: 'VirtualMachine', spec: { template: v } }, ['vhostuser'], 'VM x')).toEqual(['c']);
  });

  it('rejects an interface without a name as INVALID_ARGUMENT', () => {
    const v = { spec: { domain: { devices: { interfaces: [{ vhostuser: {} }] } } } };
    expect(() => vhostUserInterfaceNames(v, ['vhostuser'], 'VMI x')).toThrow(/^VMI x spec\.domain\.devices\.interfaces\[0\]\.name: /);
  });
});

describe('boundedWait', () => {
  const now = 1_000_000;
  it.each([
    ['no deadline', Infinity, 45_000, 45_000],
    ['a far deadline', now + 60_000, 45_000, 45_000],
    ['a near deadline (2 s margin)', new Date(now + 10_000), 45_000, 8_000],
    ['a deadline inside the margin', now + 1_000, 45_000, 0],
    ['a passed deadline', now - 5, 45_000, 0],
  ])('with %s', (_what, deadline, configured, expected) => {
    expect(boundedWait(configured, deadline, now)).toBe(expected);
  });
});
