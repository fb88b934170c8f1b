// I/O edge: loads the hook protocol's .proto files from the package's proto/ directory (found
// from this module's location, never from the working directory) into gRPC service definitions.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { findPackageRoot } from '../../cli/package.js';
import { HOOK_VERSIONS, type HookVersion } from './constants.js';

export { findPackageRoot };

export interface HookServices {
  readonly info: ServiceDefinition;
  readonly callbacks: Readonly<Record<HookVersion, ServiceDefinition>>;
}

const INFO_PROTO = 'kubevirt/hooks/info/api_info.proto';
const callbackProto = (v: HookVersion): string => `kubevirt/hooks/${v}/api_${v}.proto`;

/** Loads Info and every Callbacks version we serve from `<packageRoot>/proto`. */
export function loadHookServices(protoDir: string = join(findPackageRoot(), 'proto')): HookServices {
  const files = [INFO_PROTO, ...HOOK_VERSIONS.map(callbackProto)];
  const missing = files.filter((f) => !existsSync(join(protoDir, f)));
  if (missing.length > 0) throw new Error(`hook protocol files missing in ${protoDir}: ${missing.join(', ')}`);
  // keepCase: the wire names are camelCase already (domainXML, hookPoints); bytes stay Buffers.
  const defs = loadSync(files, { includeDirs: [protoDir], keepCase: true, defaults: true, longs: String });
  const callbacks = Object.fromEntries(
    HOOK_VERSIONS.map((v) => [v, service(defs, `kubevirt.hooks.${v}.Callbacks`)]),
  ) as Record<HookVersion, ServiceDefinition>;
  return { info: service(defs, 'kubevirt.hooks.info.Info'), callbacks };
}

function service(defs: PackageDefinition, name: string): ServiceDefinition {
  const def = defs[name];
  // A message type has `format`; a service is a map of method definitions.
  if (def === undefined || 'format' in def) throw new Error(`service ${name} not found in the hook protocol files`);
  return def as ServiceDefinition;
}
