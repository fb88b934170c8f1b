// Binds the converter to the sidecar: the one module here that knows the converter's API.
// The returned function does I/O (reads the downward-API annotations with a bounded wait).
import { rewriteDomainForPod } from '../index.js';
import type { RewriteRequest } from './on-define-domain.js';

/**
 * @example const rewrite = converterRewrite('/etc/podnetinfo'); await rewrite({ domainXml, vmi, waitMs, bindingNames })
 */
export function converterRewrite(podinfo: string): (req: RewriteRequest) => Promise<string> {
  return (req) =>
    rewriteDomainForPod({
      domainXml: req.domainXml,
      vmi: req.vmi,
      podinfo,
      waitMs: req.waitMs,
      config: { bindingNames: [...req.bindingNames] },
    });
}
