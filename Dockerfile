# One image, two roles: `webhook` (the admission webhook Deployment, see charts/) and
# `hook-sidecar` (the network binding plugin sidecar KubeVirt starts in virt-launcher pods,
# registered as `sidecarImage`, see docs/install.md). Build: docker build -t <registry>/kubevirt-vhostuser:<tag> .
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are copied, and the `node`
# devDependency's install script would fetch a second Node; the base image's Node is the one.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cli ./cli
COPY converter/src ./converter/src
COPY webhook/src ./webhook/src
# Call tsc with the image's node: node_modules/.bin/node (from the `node` devDependency) is not
# installed under --ignore-scripts, so `npx tsc` could pick a broken shim.
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && test ! -e node_modules/node && test ! -e node_modules/typescript

FROM ${NODE_IMAGE}
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
ENTRYPOINT ["node", "/app/bin/kubevirt-vhostuser.js"]
# KubeVirt starts a binding plugin's sidecarImage with no command or args of its own, so the
# default must be the sidecar; the webhook Deployment passes `webhook ...` as its args.
CMD ["hook-sidecar"]
