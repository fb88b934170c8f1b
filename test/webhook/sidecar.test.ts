// Which container is our binding sidecar: KubeVirt's hook sidecar name, and the binding env
// (KubeVirt >= 1.9) or the registered image (every release). Attacks: look-alike names, another
// binding's sidecar, another image or tag, a tag posing as a digest.
import { describe, expect, it } from 'vitest';
import { ourSidecarReason, parseImageRef, sameImage } from '../../webhook/src/mutate/sidecar.js';

const OURS = 'ghcr.io/kubevirt-vhostuser/kubevirt-vhostuser:0.1.0';
const DIGEST = 'sha256:' + 'ab'.repeat(32);
const recognition = { bindingNames: ['vhostuser'], sidecarImages: [parseImageRef(OURS)!, parseImageRef(`registry.example:5000/vhu@${DIGEST}`)!] };
const sidecar = (over: Record<string, unknown>) => ({ name: 'hook-sidecar-0', image: OURS, ...over }) as Parameters<typeof ourSidecarReason>[0];

describe('parseImageRef', () => {
  it.each([
    ['ghcr.io/x/y:0.1.0', { repository: 'ghcr.io/x/y', tag: '0.1.0' }],
    ['nginx', { repository: 'docker.io/library/nginx' }],
    ['user/app:1', { repository: 'docker.io/user/app', tag: '1' }],
    ['localhost/app', { repository: 'localhost/app' }],
    ['registry.example:5000/a/b', { repository: 'registry.example:5000/a/b' }],
    [`registry.example:5000/a/b:v2@${DIGEST}`, { repository: 'registry.example:5000/a/b', tag: 'v2', digest: DIGEST }],
  ])('%s', (ref, want) => {
    expect(parseImageRef(ref)).toEqual(want);
  });

  it.each(['', 'a b', 'x@sha256:short', 'x:tag with space', '/x', 'x//y', 'x:'])('refuses %j', (ref) => {
    expect(parseImageRef(ref)).toBeUndefined();
  });
});

describe('sameImage', () => {
  const p = (r: string) => parseImageRef(r)!;
  it('compares the repository, then the digest when both pin one, else the tag', () => {
    expect(sameImage(p('docker.io/library/nginx:latest'), p('nginx'))).toBe(true);
    expect(sameImage(p(`x@${DIGEST}`), p(`x:1@${DIGEST}`))).toBe(true);
    expect(sameImage(p(`x:1@${DIGEST}`), p(`x:1@sha256:${'cd'.repeat(32)}`))).toBe(false);
    expect(sameImage(p('x:1'), p('x:2'))).toBe(false);
    expect(sameImage(p('x:1'), p('y:1'))).toBe(false);
    // A tag can be moved to other bytes: it never stands for a digest.
    expect(sameImage(p(`x@${DIGEST}`), p('x:latest'))).toBe(false);
  });
});

describe('ourSidecarReason', () => {
  it('takes a hook sidecar of our image (KubeVirt 1.1 to 1.8 set no binding env)', () => {
    expect(ourSidecarReason(sidecar({ env: [{ name: 'CONTAINER_NAME', value: 'hook-sidecar-0' }] }), recognition)).toBe(`container "hook-sidecar-0" runs the binding sidecar image ${OURS}`);
    expect(ourSidecarReason(sidecar({ name: 'hook-sidecar-12', image: `registry.example:5000/vhu@${DIGEST}` }), recognition)).toBeDefined();
  });

  it('takes one that serves our binding (KubeVirt >= 1.9), whatever its image', () => {
    expect(ourSidecarReason(sidecar({ image: 'mirror.example/vhu:0.1.0', env: [{ name: 'NETWORK_BINDING_PLUGIN_NAME', value: 'vhostuser' }] }), recognition)).toBe(
      'container "hook-sidecar-0" serves binding "vhostuser"',
    );
  });

  it.each([
    ['compute', sidecar({ name: 'compute' })],
    ['a look-alike name', sidecar({ name: 'hook-sidecar-0x' })],
    ['guest-console-log of our image', sidecar({ name: 'guest-console-log' })],
    ['another binding’s sidecar of our image', sidecar({ env: [{ name: 'NETWORK_BINDING_PLUGIN_NAME', value: 'passt' }] })],
    ['another tag', sidecar({ image: 'ghcr.io/kubevirt-vhostuser/kubevirt-vhostuser:0.0.9' })],
    ['another repository', sidecar({ image: 'ghcr.io/attacker/kubevirt-vhostuser:0.1.0' })],
    ['a tag where we pinned a digest', sidecar({ image: 'registry.example:5000/vhu:latest' })],
    ['no image', sidecar({ image: undefined })],
  ])('refuses %s', (_what, c) => {
    expect(ourSidecarReason(c, recognition)).toBeUndefined();
  });

  it('recognises nothing by image when no image is configured', () => {
    expect(ourSidecarReason(sidecar({}), { bindingNames: ['vhostuser'], sidecarImages: [] })).toBeUndefined();
  });
});
