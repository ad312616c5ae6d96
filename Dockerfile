# syntax=docker/dockerfile:1
# digesta as a hosted GitHub App: Probot's server on 0.0.0.0:3000, run as the unprivileged `node` user.
#
# The base image is pinned by digest, like everything digesta looks after: once the app is installed on the
# repository holding this file, digesta proposes the new digest whenever node:20-bookworm-slim moves.
# The digest is a published build of the tag, as pinned in other public projects; it was not pulled here (no network).
# `digesta update --dry-run .` or `docker buildx imagetools inspect node:20-bookworm-slim` shows the current one.
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: nothing in the build needs them, and the build stage runs no code it has not seen.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM ${NODE_IMAGE}
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
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/ping').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/app/server.js"]
