// The OnDefineDomain hook without gRPC: VMI JSON + domain XML in, rewritten domain XML out.
// Pure apart from `deps.rewrite`, which reads the pod's annotations (I/O, bounded wait).
import { isConverterError, parseVmi as parseVmiSpec, vhostUserInterfaces, type ConverterError, type ConverterErrorCode, type ResolvedInterface } from '../../converter/src/index.js';

/** Transport-neutral failure classes; the gRPC layer maps them to status codes. */
export const HookStatus = {
  InvalidArgument: 'INVALID_ARGUMENT', // the request itself is wrong (VMI, domain XML)
  FailedPrecondition: 'FAILED_PRECONDITION', // the pod is not ready or not set up for vhost-user
  DeadlineExceeded: 'DEADLINE_EXCEEDED', // the CNI annotations did not appear in time
  Internal: 'INTERNAL', // a bug
} as const;
export type HookStatus = (typeof HookStatus)[keyof typeof HookStatus];

/** A failed hook call: `message` names the VMI, the interface and what is missing. */
export class HookError extends Error {
  override name = 'HookError' as const;
  constructor(
    readonly status: HookStatus,
    message: string,
    /** The converter's code, when the converter raised it. */
    readonly code?: ConverterErrorCode,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const statusOfCode: Record<ConverterErrorCode, HookStatus> = {
  E_PODINFO_SYNTAX: HookStatus.FailedPrecondition,
  E_PODINFO_READ: HookStatus.FailedPrecondition,
  E_ANNOTATION_JSON: HookStatus.FailedPrecondition,
  E_ANNOTATION_SCHEMA: HookStatus.FailedPrecondition,
  E_VMI_INVALID: HookStatus.InvalidArgument,
  E_NETWORK_NOT_FOUND: HookStatus.InvalidArgument,
  E_NOT_MULTUS: HookStatus.InvalidArgument,
  E_DRA_CLAIM: HookStatus.InvalidArgument,
  E_DRA_METADATA: HookStatus.FailedPrecondition,
  E_POD_INTERFACE_NOT_FOUND: HookStatus.FailedPrecondition,
  E_SOCKET_NOT_FOUND: HookStatus.FailedPrecondition,
  E_SOCKET_PATH: HookStatus.FailedPrecondition,
  E_ANNOTATION_UNTRUSTED: HookStatus.FailedPrecondition,
  E_SOCKET_LINK: HookStatus.FailedPrecondition,
  E_SOCKET_GROUP: HookStatus.FailedPrecondition,
  E_MODE: HookStatus.FailedPrecondition,
  E_MAC: HookStatus.InvalidArgument,
  E_PCI_CONFLICT: HookStatus.InvalidArgument,
  E_QUEUE_SIZE: HookStatus.InvalidArgument,
  E_DOMAIN_XML: HookStatus.InvalidArgument,
  E_MEMORY_PRIVATE: HookStatus.InvalidArgument,
  E_TIMEOUT: HookStatus.DeadlineExceeded,
  E_CONFIG: HookStatus.FailedPrecondition,
};

export interface RewriteRequest {
  readonly domainXml: string;
  readonly vmi: Readonly<Record<string, unknown>>;
  /** How long the converter may wait for CNI annotations. */
  readonly waitMs: number;
  readonly bindingNames: readonly string[];
}

/** The converter's answer: the domain, and the interfaces it resolved to write it. */
export interface RewrittenDomain {
  readonly domainXml: string;
  readonly interfaces: readonly ResolvedInterface[];
}

export interface OnDefineDomainDeps {
  /** Binding plugin names served (the env's name plus extras); `vhostuser: {}` always counts. */
  readonly bindingNames: readonly string[];
  /** Rewrites the domain for the VMI's vhost-user interfaces (the converter). */
  rewrite(req: RewriteRequest): Promise<RewrittenDomain>;
}

/** One written interface as the per-call log line shows it: where its socket is and which annotation said so. */
export interface InterfaceOutcome {
  readonly name: string;
  /** The socket QEMU uses. */
  readonly socket: string;
  /** The CNI's path OVS uses, when it differs (linked to `socket`). */
  readonly cniSocket?: string;
  /** The annotation the socket was read from. */
  readonly source?: string;
  readonly podInterface: string;
}

/** What one call did, for the log line the gRPC layer writes. */
export interface DefineOutcome {
  readonly domainXml: string;
  /** `namespace/name` of the VMI. */
  readonly vmi: string;
  /** The vhost-user interfaces written, in spec order; empty when the domain came back as is. */
  readonly interfaces: readonly InterfaceOutcome[];
}

/**
 * Returns the domain with one `<interface type='vhostuser'>` per vhost-user VMI interface.
 * A VMI without such interfaces gets its domain back byte for byte, without reading podinfo.
 *
 * @example (await onDefineDomain(domainXml, JSON.stringify(vmi), { bindingNames: ['vhostuser'], rewrite }, 30_000)).domainXml
 */
export async function onDefineDomain(domainXml: string, vmiJson: string, deps: OnDefineDomainDeps, waitMs: number): Promise<DefineOutcome> {
  const vmi = parseVmi(vmiJson);
  const ref = vmiRef(vmi);
  const where = `VMI ${ref}`;
  const wanted = vhostUserInterfaceNames(vmi, deps.bindingNames, where);
  if (wanted.length === 0) return { domainXml, vmi: ref, interfaces: [] };
  if (domainXml.trim() === '') throw new HookError(HookStatus.InvalidArgument, `${where}: the domain XML is empty`);
  try {
    const rewritten = await deps.rewrite({ domainXml, vmi, waitMs, bindingNames: deps.bindingNames });
    return { domainXml: rewritten.domainXml, vmi: ref, interfaces: rewritten.interfaces.map(interfaceOutcome) };
  } catch (err) {
    if (isConverterError(err)) throw fromConverterError(err, where);
    const reason = err instanceof Error ? err.message : String(err);
    throw new HookError(HookStatus.Internal, `${where}: unexpected failure rewriting interfaces ${wanted.join(', ')}: ${reason}`, undefined, { cause: err });
  }
}

/** A resolved interface's socket facts, as the log line and `doctor` show them. */
export function interfaceOutcome(i: ResolvedInterface): InterfaceOutcome {
  return {
    name: i.vmiInterface,
    socket: i.socketPath,
    ...(i.cniSocketPath !== undefined ? { cniSocket: i.cniSocketPath } : {}),
    ...(i.socketSource !== undefined ? { source: i.socketSource } : {}),
    podInterface: i.podInterface,
  };
}

function fromConverterError(err: ConverterError, where: string): HookError {
  // "VMI spec.domain: ..." from the converter reads as "VMI ns/name spec.domain: ...".
  const message = err.message.startsWith('VMI ') ? `${where} ${err.message.slice(4)}` : `${where}: ${err.message}`;
  return new HookError(statusOfCode[err.code] ?? HookStatus.Internal, message, err.code, { cause: err });
}

/** Parses the VMI JSON virt-launcher sends; the result is an object, nothing more is assumed. */
export function parseVmi(vmiJson: string): Record<string, unknown> {
  let vmi: unknown;
  try {
    vmi = JSON.parse(vmiJson);
  } catch (err) {
    throw new HookError(HookStatus.InvalidArgument, `the VMI is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof vmi !== 'object' || vmi === null || Array.isArray(vmi)) {
    throw new HookError(HookStatus.InvalidArgument, `the VMI JSON is ${vmi === null ? 'null' : Array.isArray(vmi) ? 'an array' : `a ${typeof vmi}`}; expected a VirtualMachineInstance object`);
  }
  return vmi as Record<string, unknown>;
}

/**
 * Names of the VMI's vhost-user interfaces, in spec order, as the converter selects them (same
 * schema, hot-unplugged ones left out), so that both agree on whether there is work to do.
 */
export function vhostUserInterfaceNames(vmi: Record<string, unknown>, bindingNames: readonly string[], where: string): string[] {
  try {
    return vhostUserInterfaces(parseVmiSpec(vmi), bindingNames).map((i) => i.name);
  } catch (err) {
    if (isConverterError(err)) throw fromConverterError(err, where);
    throw err;
  }
}

function vmiRef(vmi: Record<string, unknown>): string {
  const ns = at(vmi, ['metadata', 'namespace']);
  const name = at(vmi, ['metadata', 'name']);
  const n = typeof name === 'string' ? name : '<unnamed>';
  return typeof ns === 'string' && ns !== '' ? `${ns}/${n}` : n;
}

function at(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}
