// I/O edge. Reads the KEP-5304 device metadata files of a VMI's vhost-user DRA networks, so that
// resolution stays pure: each file the resolver may look at is read once, an absent one recorded
// as absent. A file that exists but cannot be read fails at once, naming claim, request and file.

import { open } from 'node:fs/promises';
import type { ConverterConfig } from './config.js';
import { draClaimRef, draMetadataPath, draNetworks, type DraMetadataFiles } from './dra.js';
import { ConverterError } from './errors.js';
import { vhostUserInterfaces } from './resolve.js';
import type { Vmi } from './vmi.js';

/** Larger than any metadata file a driver writes; a bigger one is refused, not read whole. */
export const MAX_DRA_METADATA_BYTES = 1 << 20;

/**
 * The metadata texts for every vhost-user DRA network of the VMI, per driver file.
 *
 * @throws ConverterError E_DRA_CLAIM for a claim that names no path, E_DRA_METADATA for a file that cannot be read.
 */
export async function readDraMetadata(vmi: Vmi, config: ConverterConfig): Promise<DraMetadataFiles> {
  const files = new Map<string, string | undefined>();
  for (const { iface, network } of draNetworks(vmi, vhostUserInterfaces(vmi, config.bindingNames))) {
    const ref = draClaimRef(vmi, network, iface);
    for (const driver of config.dra.drivers) {
      const file = draMetadataPath(config.dra.metadataRoot, ref, driver);
      if (files.has(file)) continue;
      try {
        files.set(file, await readBounded(file));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          files.set(file, undefined);
          continue;
        }
        throw new ConverterError(
          'E_DRA_METADATA',
          `interface '${iface}': DRA claim '${ref.claim}' request '${ref.request}': cannot read ${file}: ${(err as Error).message}`,
          { iface, claim: ref.claim, request: ref.request, file, hint: 'the kubelet mounts it read-only into containers that request the claim' },
          { cause: err },
        );
      }
    }
  }
  return files;
}

/** Whether some vhost-user interface of the VMI reads pod annotations (is not a DRA network). */
export function needsPodAnnotations(vmi: Vmi, config: ConverterConfig): boolean {
  const ifaces = vhostUserInterfaces(vmi, config.bindingNames);
  return draNetworks(vmi, ifaces).length < ifaces.length;
}

async function readBounded(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size > MAX_DRA_METADATA_BYTES) throw Object.assign(new Error(`${size} bytes, more than ${MAX_DRA_METADATA_BYTES}`), { code: 'EFBIG' });
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
