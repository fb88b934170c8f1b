// Pure. Which container of a launcher pod is our binding sidecar, on every KubeVirt release:
// virt-controller names hook sidecars `hook-sidecar-<i>` and starts them from the image registered
// for the binding (spec.configuration.network.binding.<name>.sidecarImage), verbatim. Only v1.9.0
// and later also set NETWORK_BINDING_PLUGIN_NAME; v1.6-v1.8 set CONTAINER_NAME, earlier releases
// only XDG_* (fixtures/releases/). So: KubeVirt's name, and the binding env or our image.
import type { Container } from '../admission/review.js';
import { BINDING_PLUGIN_ENV } from '../constants.js';

/** An image reference split as the container runtime reads it. */
export interface ImageRef {
  /** Registry and path, with Docker Hub's implicit `docker.io/` and `library/` filled in. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** How our sidecar container is told from the others. */
export interface SidecarRecognition {
  readonly bindingNames: readonly string[];
  /** The images our sidecar may run (the one the KubeVirt CR registers for the binding). */
  readonly sidecarImages: readonly ImageRef[];
}

/** KubeVirt's name for hook sidecar containers (template.go newSidecarContainerRenderer). */
const HOOK_SIDECAR_NAME = /^hook-sidecar-\d+$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/**
 * Parses `[registry/]path[:tag][@digest]`. The registry is the first component when it has a `.`
 * or `:` or is `localhost`; otherwise the image is on Docker Hub.
 *
 * @returns undefined for text that is not an image reference.
 * @example parseImageRef('ghcr.io/x/y:0.1.0') // { repository: 'ghcr.io/x/y', tag: '0.1.0' }
 */
export function parseImageRef(ref: string): ImageRef | undefined {
  const at = ref.indexOf('@');
  const digest = at < 0 ? undefined : ref.slice(at + 1);
  if (digest !== undefined && !DIGEST.test(digest)) return undefined;
  let name = at < 0 ? ref : ref.slice(0, at);
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  const parts = name.split('/');
  if (name === '' || parts.some((p) => p === '' || /\s/.test(p))) return undefined;
  const first = parts[0] as string;
  const hasRegistry = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const path = hasRegistry ? parts.slice(1) : parts;
  const registry = hasRegistry ? first : 'docker.io';
  const repository = [registry, ...(registry === 'docker.io' && path.length === 1 ? ['library'] : []), ...path].join('/');
  return { repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * The same image: same repository, and the same digest when both pin one, else the same tag
 * (`latest` when none is given). A tag never matches a digest: they can name different bytes.
 */
export function sameImage(a: ImageRef, b: ImageRef): boolean {
  if (a.repository !== b.repository) return false;
  if (a.digest !== undefined && b.digest !== undefined) return a.digest === b.digest;
  if (a.digest !== undefined || b.digest !== undefined) return a.tag !== undefined && a.tag === b.tag;
  return (a.tag ?? 'latest') === (b.tag ?? 'latest');
}

/** The binding a sidecar serves (its literal NETWORK_BINDING_PLUGIN_NAME), if it says. */
export function bindingPluginName(container: Container): string | undefined {
  const env = container.env;
  if (env == null) return undefined;
  for (const e of env) if (e.name === BINDING_PLUGIN_ENV && typeof e.value === 'string') return e.value;
  return undefined;
}

/**
 * Why `c` is our binding sidecar, or undefined when it is not: a `hook-sidecar-<i>` container that
 * serves one of our bindings (KubeVirt >= 1.9), or, naming no binding, runs one of our images.
 * A sidecar that names another binding is never ours, whatever its image.
 */
export function ourSidecarReason(c: Container, r: SidecarRecognition): string | undefined {
  if (!HOOK_SIDECAR_NAME.test(c.name)) return undefined;
  const binding = bindingPluginName(c);
  if (binding !== undefined) return r.bindingNames.includes(binding) ? `container "${c.name}" serves binding "${binding}"` : undefined;
  if (r.sidecarImages.length === 0 || typeof c.image !== 'string') return undefined;
  const image = parseImageRef(c.image);
  if (image === undefined || !r.sidecarImages.some((ours) => sameImage(ours, image))) return undefined;
  return `container "${c.name}" runs the binding sidecar image ${c.image}`;
}
