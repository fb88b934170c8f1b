// The sidecar's own protobuf tables and codec against the .proto files in proto/ as protobufjs
// (through @grpc/proto-loader, what the grpc-js clients of these tests use) reads them: same
// methods, same fields, the same bytes both ways; and the decoder against hostile input.
import { join } from 'node:path';
import { loadSync, type MessageTypeDefinition, type MethodDefinition, type PackageDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { HOOK_VERSIONS } from '../../sidecar/src/constants.js';
import { decode, encode, findPackageRoot, HOOK_PROTOCOL, WireError, type Method, type MessageType } from '../../sidecar/src/proto.js';

const protoDir = join(findPackageRoot(), 'proto');
const files = ['kubevirt/hooks/info/api_info.proto', ...HOOK_VERSIONS.map((v) => `kubevirt/hooks/${v}/api_${v}.proto`)];
const defs: PackageDefinition = loadSync(files, { includeDirs: [protoDir], keepCase: true, defaults: true });

type Service = Record<string, MethodDefinition<object, object>>;
const service = (name: string): Service => defs[name] as unknown as Service;

interface DescriptorField {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}

const TYPE: Record<string, string> = { TYPE_BYTES: 'bytes', TYPE_STRING: 'string', TYPE_INT32: 'int32' };

/** Our table of a message, written the way a descriptor from the .proto file reads. */
function fieldsOf(type: MessageType): unknown[] {
  return type.fields.map((f) => ({ name: f.name, number: f.no, repeated: f.repeated === true, type: typeof f.type === 'string' ? f.type : f.type.name }));
}

function descriptorFields(def: MessageTypeDefinition<object, object>, pkg: string): unknown[] {
  const fields = (def.type as { field: DescriptorField[] }).field;
  return fields.map((f) => ({ name: f.name, number: f.number, repeated: f.label === 'LABEL_REPEATED', type: TYPE[f.type] ?? `${pkg}.${f.typeName}` }));
}

const allMethods: [string, Method][] = [['kubevirt.hooks.info.Info', HOOK_PROTOCOL.info], ...HOOK_VERSIONS.flatMap((v) => HOOK_PROTOCOL.callbacks[v].map((m): [string, Method] => [`kubevirt.hooks.${v}.Callbacks`, m]))];

describe('hook protocol tables', () => {
  it.each(HOOK_VERSIONS)('Callbacks %s has exactly the methods of its .proto file', (v) => {
    expect(HOOK_PROTOCOL.callbacks[v].map((m) => m.name).sort()).toEqual(Object.keys(service(`kubevirt.hooks.${v}.Callbacks`)).sort());
  });

  it.each(allMethods.map(([svc, m]) => [`${svc}/${m.name}`, svc, m] as const))('%s: path and message fields match the .proto file', (_name, svc, m) => {
    const def = service(svc)[m.name] as MethodDefinition<object, object>;
    const pkg = svc.slice(0, svc.lastIndexOf('.'));
    expect(m.path).toBe(def.path);
    expect(fieldsOf(m.request)).toEqual(descriptorFields(def.requestType, pkg));
    expect(fieldsOf(m.response)).toEqual(descriptorFields(def.responseType, pkg));
    for (const f of m.response.fields) {
      if (typeof f.type !== 'string') expect(fieldsOf(f.type)).toEqual(descriptorFields(defs[f.type.name] as MessageTypeDefinition<object, object>, pkg));
    }
  });
});

describe('hook protocol codec', () => {
  const define = HOOK_PROTOCOL.callbacks.v1alpha3.find((m) => m.name === 'OnDefineDomain') as Method;
  const defineDef = service('kubevirt.hooks.v1alpha3.Callbacks')['OnDefineDomain'] as MethodDefinition<object, object>;

  it('encodes Info as protobufjs decodes it, negative and repeated values included', () => {
    const info = { name: 'kubevirt-vhostuser', versions: ['v1alpha3', 'v1alpha2'], hookPoints: [{ name: 'OnDefineDomain', priority: 0 }, { name: 'Shutdown', priority: -5 }, { name: 'PreCloudInitIso', priority: 300 }] };
    const def = service('kubevirt.hooks.info.Info')['Info'] as MethodDefinition<object, object>;
    expect(def.responseDeserialize(encode(HOOK_PROTOCOL.info.response, info))).toEqual(info);
  });

  it('decodes what protobufjs encodes, and the other way round, for bytes of every size class', () => {
    const same = (a: unknown, b: Buffer): boolean => Buffer.isBuffer(a) && a.equals(b);
    for (const size of [0, 1, 127, 128, 16_383, 16_384, 2_100_000]) {
      const req = { domainXML: Buffer.alloc(size, 0x61), vmi: Buffer.from('{"metadata":{"name":"é"}}') };
      const got = decode(define.request, defineDef.requestSerialize(req));
      expect([size, same(got['domainXML'], req.domainXML), same(got['vmi'], req.vmi)]).toEqual([size, true, true]);
      const res = { domainXML: Buffer.alloc(size, 0x62) };
      const back = defineDef.responseDeserialize(encode(define.response, res)) as { domainXML: Buffer };
      expect([size, same(back.domainXML, res.domainXML)]).toEqual([size, true]);
    }
  });

  it('gives absent fields their proto3 defaults, skips unknown fields and keeps the last of a repeated singular field', () => {
    // field 9 varint, field 10 fixed64, field 11 fixed32, field 12 bytes: unknown, skipped.
    const unknown = Buffer.from([0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5d, 1, 2, 3, 4, 0x62, 0x01, 0x7a]);
    const twice = Buffer.from([0x12, 0x01, 0x41, 0x12, 0x01, 0x42]);
    expect(decode(define.request, Buffer.concat([unknown, twice]))).toEqual({ domainXML: Buffer.alloc(0), vmi: Buffer.from('B') });
  });

  it.each([
    ['a truncated varint', [0x0a, 0x80]],
    ['a varint longer than 10 bytes', [0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ['a length past the end', [0x0a, 0x05, 0x61]],
    ['a huge length', [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]],
    ['field number 0', [0x02, 0x00]],
    ['a group (wire type 3)', [0x0b]],
    ['wire type 7', [0x0f]],
    ['a truncated fixed64', [0x51, 1, 2]],
    ['a varint where bytes are declared', [0x08, 0x01]],
  ])('refuses %s with a WireError naming the message', (_what, bytes) => {
    expect(() => decode(define.request, Buffer.from(bytes))).toThrow(WireError);
    expect(() => decode(define.request, Buffer.from(bytes))).toThrow(/^kubevirt\.hooks\.v1alpha3\.OnDefineDomainParams/);
  });
});
