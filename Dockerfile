# One image, two roles: `webhook` (the admission webhook Deployment, see charts/) and
# `hook-sidecar` (the network binding plugin sidecar KubeVirt starts in virt-launcher pods,
# registered as `sidecarImage`, see docs/install.md). Build for both architectures (docs/install.md,
# "Your own image"; .github/workflows/release.yaml does this for releases):
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/kubevirt-vhostuser:<tag> --push .
ARG NODE_IMAGE=node:24-bookworm-slim

# The build stage runs on the builder's own platform whatever the target: it compiles TypeScript
# to JavaScript and installs dependencies that are JavaScript only (checked below), output that
# runs on any architecture. The final stage only copies, so a multi-platform build runs no
# emulated instruction at all (no QEMU needed for arm64 on an amd64 builder).
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are copied, and the `node`
# devDependency's install script would fetch a second Node; the base image's Node is the one.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# Every directory tsconfig.build.json compiles: the hook-sidecar command lives in sidecar/src.
COPY cli ./cli
COPY converter/src ./converter/src
COPY sidecar/src ./sidecar/src
COPY webhook/src ./webhook/src
COPY scripts/bundle-commands.js ./scripts/
# Call tsc with the image's node: node_modules/.bin/node (from the `node` devDependency) is not
# installed under --ignore-scripts, so `npx tsc` could pick a broken shim. The production
# dependencies go into an image of the target's architecture: a native addon (*.node) among them
# would be the builder's, so the build fails instead of shipping it. The bundler (rolldown, a
# devDependency with a native binding of the builder's) writes dist/cli/hook-sidecar.mjs and
# dist/cli/webhook.mjs, plain JavaScript, the one file each of the two roles runs
# (docs/benchmarks.md, "Sidecar footprint" and "Webhook footprint").
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && node scripts/bundle-commands.js \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && test ! -e node_modules/node && test ! -e node_modules/typescript \
 && test -z "$(find node_modules -name '*.node' -print -quit)"

# The target platform's Node image (buildx sets it per --platform entry).
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="kubevirt-vhostuser" \
      org.opencontainers.image.description="DPDK vhost-user networking for KubeVirt VMs: admission webhook and network binding sidecar" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/kubevirt-vhostuser/kubevirt-vhostuser"
ENV NODE_ENV=production
WORKDIR /app
# package.json: "type": "module", and the sidecar finds proto/ next to it.
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY proto ./proto
# Nothing is written outside mounted volumes: the image runs with readOnlyRootFilesystem.
# 107 is the uid KubeVirt gives non-root virt-launcher pods and their sidecars; running as it
# keeps the hook socket connectable by the compute container either way.
USER 107:107
# A 1 MiB semi-space: what node picks in the webhook's 256Mi, and 5 MiB less for the 64M sidecar.
# Optimising compiles on the main thread: done on a helper thread, the memory they took stayed
# with the process, about 18 MiB of the webhook's under load (docs/benchmarks.md, "Webhook
# footprint"); the sidecar does not optimise at all. A flag of the command line only, too late
# for bin/ to set. A 20 MiB old generation before the first full collection: the sidecar's first
# calls grow its heap from 6 to 10 MB, and with V8's default that first mark-compact fell into
# about the 90th call, 15 ms of CPU on top of the call's 11, past the 20 ms a 200m quota gives a
# period; the webhook's heap passes 20 MiB under load anyway.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--no-concurrent-recompilation", "--initial-old-space-size=20", "/app/bin/kubevirt-vhostuser.js"]
# KubeVirt starts a binding plugin's sidecarImage with no command or args of its own, so the
# default must be the sidecar; the webhook Deployment passes `webhook ...` as its args.
CMD ["hook-sidecar"]
