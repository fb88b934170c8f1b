// Pure. The three volumes a vhost-user launcher pod needs, and when a volume already in the pod
// may stand in for one of them (a second admission, or network-resources-injector's podnetinfo).
import type { Volume } from '../admission/review.js';

export interface VolumeSettings {
  readonly sharedDir: { readonly name: string; readonly mountPath: string };
  /** writable: mount it read-write (off by default; see mount below for what that gives away). */
  readonly ovsRunDir: { readonly name: string; readonly hostPath: string; readonly mountPath: string; readonly writable: boolean };
  readonly podinfo: { readonly name: string; readonly mountPath: string; readonly inSidecars: boolean };
}

export type VolumeRole = 'sharedDir' | 'ovsRunDir' | 'podinfo';

export interface WantedVolume {
  readonly role: VolumeRole;
  readonly name: string;
  readonly mountPath: string;
  /** The `spec.volumes[]` entry to add when the pod has none of this name. */
  readonly volume: Readonly<Record<string, unknown>>;
  /** The `volumeMounts[]` entry to add to a container that lacks one at mountPath. */
  readonly mount: Readonly<Record<string, unknown>>;
  /** Human description of the source, for conflict messages. */
  readonly expected: string;
  /**
   * May a fitting volume of another name, already mounted at mountPath, stand in? Not for the
   * shared dir: the userspace CNI looks that volume up by name.
   */
  readonly reusableUnderOtherName: boolean;
  /** Can an existing volume (of our name, or mounted at our path) serve this role? */
  accepts(existing: Volume): boolean;
}

/** The value as a plain JSON object, or undefined for anything else (arrays, null, scalars). */
export function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Mount and host paths compare without trailing slashes: `/a/` and `/a` are one directory. */
export function normalizeDir(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47 /* '/' */) end--;
  return end === path.length ? path : path.slice(0, end);
}

/** A downward-API volume that writes the pod's annotations to a file named `annotations`. */
export function exposesAnnotations(volume: Volume): boolean {
  const items = record(volume['downwardAPI'])?.['items'];
  if (!Array.isArray(items)) return false;
  return items.some((item) => {
    const it = record(item);
    return it?.['path'] === 'annotations' && record(it['fieldRef'])?.['fieldPath'] === 'metadata.annotations';
  });
}

/**
 * The wanted volumes in patch order. Built once per configuration: the values are frozen and
 * shared by every patch, so the hot path allocates nothing for them.
 */
export function wantedVolumes(s: VolumeSettings): readonly WantedVolume[] {
  const hostPath = normalizeDir(s.ovsRunDir.hostPath);
  const list: WantedVolume[] = [
    {
      role: 'sharedDir',
      name: s.sharedDir.name,
      mountPath: s.sharedDir.mountPath,
      volume: { name: s.sharedDir.name, emptyDir: {} },
      mount: { name: s.sharedDir.name, mountPath: s.sharedDir.mountPath },
      expected: 'an emptyDir or hostPath volume (the userspace CNI places the sockets there)',
      reusableUnderOtherName: false,
      // The userspace CNI resolves either kind to a host directory.
      accepts: (v) => record(v['emptyDir']) !== undefined || record(v['hostPath']) !== undefined,
    },
    {
      role: 'ovsRunDir',
      name: s.ovsRunDir.name,
      mountPath: s.ovsRunDir.mountPath,
      // type Directory, not DirectoryOrCreate: on a node without OVS the pod fails to mount with
      // a clear event instead of starting against an empty directory the kubelet created as root.
      volume: { name: s.ovsRunDir.name, hostPath: { path: s.ovsRunDir.hostPath, type: 'Directory' } },
      // Read-only unless asked: QEMU unlinks whatever sits at a server socket's path before it
      // binds, so a writable mount would let a domain replace OVS's db.sock; connect() to the
      // OVS sockets still works through a read-only mount.
      mount: s.ovsRunDir.writable
        ? { name: s.ovsRunDir.name, mountPath: s.ovsRunDir.mountPath }
        : { name: s.ovsRunDir.name, mountPath: s.ovsRunDir.mountPath, readOnly: true },
      expected: `a hostPath volume of ${s.ovsRunDir.hostPath}`,
      reusableUnderOtherName: true,
      accepts: (v) => {
        const path = record(v['hostPath'])?.['path'];
        return typeof path === 'string' && normalizeDir(path) === hostPath;
      },
    },
    {
      role: 'podinfo',
      name: s.podinfo.name,
      mountPath: s.podinfo.mountPath,
      volume: {
        name: s.podinfo.name,
        downwardAPI: {
          items: [
            { path: 'labels', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.labels' } },
            { path: 'annotations', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.annotations' } },
          ],
        },
      },
      mount: { name: s.podinfo.name, mountPath: s.podinfo.mountPath },
      expected: 'a downwardAPI volume with metadata.annotations at "annotations"',
      reusableUnderOtherName: true,
      accepts: exposesAnnotations,
    },
  ];
  return Object.freeze(list.map((w) => Object.freeze({ ...w, volume: deepFreeze(w.volume), mount: deepFreeze(w.mount) })));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Describes a volume's source for messages: its first key other than `name`. */
export function describeSource(volume: Volume): string {
  for (const key of Object.keys(volume)) if (key !== 'name') return key;
  return 'no source';
}
