// Pure. The hook protocol's messages and methods (proto/kubevirt/hooks/*/api_*.proto, KubeVirt
// pkg/hooks/info and pkg/hooks/v1alpha1..v1alpha3) as tables, and their protobuf encoding: every
// field is bytes, string, int32 or a message, so the wire format needs a tag, a varint and a
// length. Written out here instead of parsed from the .proto files at start-up (a protobuf
// runtime and the files' parse cost the sidecar more memory than the rest of its server);
// test/sidecar/proto.test.ts checks these tables against the .proto files and protobufjs.
import { findPackageRoot } from '../../cli/package.js';
import { HOOK_VERSIONS, type HookVersion } from './constants.js';

export { findPackageRoot };

export type FieldType = 'bytes' | 'string' | 'int32' | MessageType;

export interface Field {
  readonly no: number;
  readonly name: string;
  readonly type: FieldType;
  readonly repeated?: true;
}

export interface MessageType {
  /** The fully qualified protobuf name, e.g. `kubevirt.hooks.info.InfoResult`. */
  readonly name: string;
  readonly fields: readonly Field[];
}

const message = (name: string, fields: readonly Field[] = []): MessageType => ({ name, fields });

const INFO = 'kubevirt.hooks.info';
const HookPoint = message(`${INFO}.HookPoint`, [
  { no: 1, name: 'name', type: 'string' },
  { no: 2, name: 'priority', type: 'int32' },
]);
const InfoParams = message(`${INFO}.InfoParams`);
const InfoResult = message(`${INFO}.InfoResult`, [
  { no: 1, name: 'name', type: 'string' },
  { no: 3, name: 'hookPoints', type: HookPoint, repeated: true },
  { no: 4, name: 'versions', type: 'string', repeated: true },
]);

/** One unary method: its HTTP/2 path (`/package.Service/Method`) and message types. */
export interface Method {
  readonly path: string;
  readonly name: string;
  readonly request: MessageType;
  readonly response: MessageType;
}

/** Every method of the Callbacks service of `version`, which adds to the one before it. */
function callbackMethods(version: HookVersion): Method[] {
  const pkg = `kubevirt.hooks.${version}`;
  const method = (name: string, request: MessageType, response: MessageType): Method => ({ path: `/${pkg}.Callbacks/${name}`, name, request, response });
  const methods = [
    method(
      'OnDefineDomain',
      message(`${pkg}.OnDefineDomainParams`, [
        { no: 1, name: 'domainXML', type: 'bytes' },
        { no: 2, name: 'vmi', type: 'bytes' },
      ]),
      message(`${pkg}.OnDefineDomainResult`, [{ no: 1, name: 'domainXML', type: 'bytes' }]),
    ),
  ];
  if (version === 'v1alpha1') return methods;
  methods.push(
    method(
      'PreCloudInitIso',
      message(`${pkg}.PreCloudInitIsoParams`, [
        { no: 1, name: 'cloudInitNoCloudSource', type: 'bytes' },
        { no: 2, name: 'vmi', type: 'bytes' },
        { no: 3, name: 'cloudInitData', type: 'bytes' },
      ]),
      message(`${pkg}.PreCloudInitIsoResult`, [
        { no: 1, name: 'cloudInitNoCloudSource', type: 'bytes' },
        { no: 3, name: 'cloudInitData', type: 'bytes' },
      ]),
    ),
  );
  if (version === 'v1alpha2') return methods;
  methods.push(method('Shutdown', message(`${pkg}.ShutdownParams`), message(`${pkg}.ShutdownResult`)));
  return methods;
}

export interface HookProtocol {
  readonly info: Method;
  readonly callbacks: Readonly<Record<HookVersion, readonly Method[]>>;
}

/** Info plus every Callbacks version we serve. */
export const HOOK_PROTOCOL: HookProtocol = {
  info: { path: `/${INFO}.Info/Info`, name: 'Info', request: InfoParams, response: InfoResult },
  callbacks: Object.fromEntries(HOOK_VERSIONS.map((v) => [v, callbackMethods(v)])) as Record<HookVersion, Method[]>,
};

/** A request message that is not valid protobuf for its type. */
export class WireError extends Error {
  override name = 'WireError' as const;
}

type Value = Buffer | string | number | Decoded;
/** A decoded message: field name to value (a list for a repeated field). */
export interface Decoded {
  [field: string]: Value | Value[];
}

/**
 * Decodes `bytes` as `type`, proto3 style: absent fields get their defaults (empty bytes, '', 0,
 * []), a repeated scalar field occurring again is appended, a singular one is replaced, unknown
 * fields are skipped. Bytes fields are views into `bytes`.
 *
 * @throws WireError for a truncated message, an overlong varint or a wire type that does not fit.
 */
export function decode(type: MessageType, bytes: Buffer): Decoded {
  const out: Decoded = {};
  for (const f of type.fields) out[f.name] = f.repeated ? [] : defaultOf(f.type);
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (pos >= bytes.length) throw new WireError(`${type.name}: truncated varint at byte ${pos}`);
      const b = bytes[pos++] as number;
      // Only the low 32 bits matter for tags, lengths and int32; the rest is read and dropped.
      if (shift < 32) value |= (b & 0x7f) << shift;
      if (b < 0x80) return value;
    }
    throw new WireError(`${type.name}: varint longer than 10 bytes at byte ${pos}`);
  };
  while (pos < bytes.length) {
    const tag = varint() >>> 0;
    const no = tag >>> 3;
    const wire = tag & 7;
    if (no === 0) throw new WireError(`${type.name}: field number 0 at byte ${pos}`);
    const field = type.fields.find((f) => f.no === no);
    let value: Buffer | number | undefined;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const len = varint() >>> 0;
      if (len > bytes.length - pos) throw new WireError(`${type.name}: field ${no} runs ${len - (bytes.length - pos)} bytes past the end`);
      value = bytes.subarray(pos, pos + len);
      pos += len;
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
      if (pos > bytes.length) throw new WireError(`${type.name}: field ${no} is truncated`);
    } else throw new WireError(`${type.name}: field ${no} has wire type ${wire}, which proto3 never writes`);
    if (field === undefined || value === undefined) continue;
    const expected = field.type === 'int32' ? 0 : 2;
    if (wire !== expected) throw new WireError(`${type.name}.${field.name}: wire type ${wire}, expected ${expected}`);
    const v = convert(field.type, value);
    if (field.repeated) (out[field.name] as unknown[]).push(v);
    else out[field.name] = v;
  }
  return out;
}

function defaultOf(type: FieldType): Value {
  if (type === 'bytes') return Buffer.alloc(0);
  if (type === 'string') return '';
  if (type === 'int32') return 0;
  return decode(type, Buffer.alloc(0));
}

function convert(type: FieldType, value: Buffer | number): Value {
  if (type === 'int32') return (value as number) | 0;
  if (type === 'bytes') return value as Buffer;
  if (type === 'string') return (value as Buffer).toString('utf8');
  return decode(type, value as Buffer);
}

/** Encodes `value` as `type`; absent fields and proto3 defaults are left out. */
export function encode(type: MessageType, value: Readonly<Record<string, unknown>>): Buffer {
  const parts: Buffer[] = [];
  for (const f of type.fields) {
    const v = value[f.name];
    if (v === undefined || v === null) continue;
    for (const item of f.repeated ? (v as unknown[]) : [v]) {
      if (f.type === 'int32') {
        const n = Number(item) | 0;
        if (n === 0 && !f.repeated) continue;
        parts.push(varintBytes((f.no << 3) | 0), varintBytes(n));
        continue;
      }
      const body = f.type === 'bytes' ? asBuffer(item as Uint8Array) : f.type === 'string' ? Buffer.from(String(item), 'utf8') : encode(f.type, item as Record<string, unknown>);
      if (body.length === 0 && !f.repeated) continue;
      parts.push(varintBytes((f.no << 3) | 2), varintBytes(body.length), body);
    }
  }
  return Buffer.concat(parts);
}

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** A varint; negative int32 values take ten bytes, as protobuf writes them. */
function varintBytes(n: number): Buffer {
  const out: number[] = [];
  if (n >= 0) {
    for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
    out.push(n);
    return Buffer.from(out);
  }
  let v = BigInt.asUintN(64, BigInt(n));
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v === 0n ? low : low | 0x80);
  } while (v !== 0n);
  return Buffer.from(out);
}
