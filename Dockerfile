# syntax=docker/dockerfile:1
# digesta as a hosted GitHub App: Probot's server on 0.0.0.0:3000, on Node 24 LTS, as an unprivileged user.
#
# Build: the official node:24 image (npm, a shell). Run: Google's distroless Node 24 image, `nonroot` variant: Node
# and glibc, no shell, no package manager, uid 65532; Debian 12's security updates, images signed with cosign. Why not
# cgr.dev/chainguard/node: its free tags follow the newest Node release, not the 24 LTS line.
#
# Both are pinned by digest, like everything digesta looks after: once the app (or the Action) runs on the repository
# holding this file, digesta proposes each new digest of these tags with the package changes inside. The digests
# below are published builds of the tags as pinned in other public projects; they were not pulled here (no network),
# so check them before you build: `digesta update --dry-run .` or `docker buildx imagetools inspect <tag>`.
ARG BUILD_IMAGE=node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: nothing in the build needs them, and the build stage runs no code it has not seen.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/build-cli.mjs ./scripts/
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM ${RUNTIME_IMAGE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    LOG_FORMAT=json \
    LOG_LEVEL=info
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY app.yml ./
# The image's own user (nonroot, 65532); said again so that a changed base cannot make it root.
USER 65532:65532
EXPOSE 3000
# The image's entrypoint is node itself (no shell): these are node's arguments.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/ping').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["dist/app/server.js"]
