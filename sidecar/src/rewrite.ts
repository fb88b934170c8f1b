// Binds the converter to the sidecar: the one module here that knows the converter's API.
// The returned function does I/O (reads the downward-API annotations with a bounded wait).
import { existsSync } from 'node:fs';
import { prepareDomainForPod, type KubeOvnNetwork, type SocketSharing } from '../../converter/src/index.js';
import type { RewriteRequest, RewrittenDomain } from './on-define-domain.js';

export interface SidecarConverterSettings {
  /** Directories socket paths may lie in, besides the shared-dir mount. */
  readonly allowedSocketDirs?: readonly string[];
  /** KubeVirt's network-info file; its presence means KubeVirt writes `kubevirt.io/network-info`. */
  readonly networkInfoFile?: string;
  /** QEMU uses the stable socket names (the default), or the CNI's paths as they are. */
  readonly stableSocketPaths?: boolean;
  /** `where-visible` only for tests away from a pod: in a pod the shared dir must be mounted. */
  readonly links?: 'required' | 'where-visible';
  /** Gives the sockets QEMU binds to a group (a reduced-privilege OVS), once the links are made. */
  readonly socketGroup?: SocketSharing;
  /** The pod's Kube-OVN vhost-user networks (the webhook's KUBE_OVN_NETWORKS_ENV). */
  readonly kubeOvn?: readonly KubeOvnNetwork[];
}

/**
 * @example const rewrite = converterRewrite('/etc/podnetinfo'); await rewrite({ domainXml, vmi, waitMs, bindingNames })
 */
export function converterRewrite(podinfo: string, settings: SidecarConverterSettings = {}): (req: RewriteRequest) => Promise<RewrittenDomain> {
  return async (req) => {
    const { xml, interfaces } = await prepareDomainForPod({
      domainXml: req.domainXml,
      vmi: req.vmi,
      podinfo,
      waitMs: req.waitMs,
      links: settings.links ?? 'required',
      config: {
        bindingNames: [...req.bindingNames],
        allowedSocketDirs: [...(settings.allowedSocketDirs ?? [])],
        stableSocketPaths: settings.stableSocketPaths ?? true,
        kubeOvn: [...(settings.kubeOvn ?? [])],
        // Checked per call: the file is KubeVirt's mount, fixed for the pod's life.
        kubevirtNetworkInfo: settings.networkInfoFile !== undefined && existsSync(settings.networkInfoFile),
      },
    });
    await settings.socketGroup?.share(interfaces);
    return { domainXml: xml, interfaces };
  };
}
