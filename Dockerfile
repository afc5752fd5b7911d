# syntax=docker/dockerfile:1
#
# backup-exporter container image; docs/deployment.md describes how to run it.
#
#   docker build --build-arg VERSION=0.1.0 -t backup-exporter:0.1.0 .
#   docker run --rm -p 9877:9877 --read-only \
#     -v "$PWD/my-config:/etc/backup-exporter:ro" backup-exporter:0.1.0
#
# The default target (the last stage, `runtime`) is the exporter alone: no product simulators and
# no demo configuration. The demo's simulators are a target of their own, which docker-compose.yml
# runs as a service next to the exporter:
#
#   docker build --target simulators -t backup-exporter-simulators .
#
# Base image: the official Node.js image, Debian 12 "slim" flavour, for all stages. Why not a
# distroless Node.js image (smaller, no shell)? The slim image runs the same Node.js build and
# Debian release in which the dependencies were installed, comes from the same registry as the
# build stage, keeps a shell for `docker exec` debugging, and without npm, npx, corepack and yarn
# (removed below) it adds little attack surface over distroless. The whole image is one knob:
# `--build-arg NODE_IMAGE=node:22-bookworm-slim` moves every stage to another Node.js release.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- production dependencies only. --ignore-scripts: package.json's `prepare` script would run
# ---- the TypeScript build, which needs the dev dependencies and the sources.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# ---- compile TypeScript and render the docs with every dependency; nothing of this stage but dist/ is kept.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The documentation that the exporter serves at /docs/: the build renders it into dist/docs.
COPY docs ./docs
COPY scripts/build-docs.mjs ./scripts/
RUN npm run build

# ---- the product simulators' build: the exporter's build stage plus simulators/ (which imports a
# ---- few helpers of src/); its output, build/, never reaches the exporter's image.
FROM build AS simulators-build
COPY simulators ./simulators
RUN npm run build:simulators

# ---- the product simulators (simulators/README.md), for the demo stack of docker-compose.yml.
FROM ${NODE_IMAGE} AS simulators
LABEL org.opencontainers.image.title="backup-exporter-simulators" \
      org.opencontainers.image.description="Simulators of the backup products backup-exporter reads (one per product, see simulators/README.md), for its demo; not for production" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=simulators-build /src/build ./build
USER 1000:1000
# One port per product from 19101 (simulators/demo.ts); the range leaves room for new products.
EXPOSE 19101-19120
# Every interface: the exporter reaches them from another container (http://simulators:19101).
ENTRYPOINT ["node", "/app/build/simulators/main.js", "--host=0.0.0.0"]
CMD []

# ---- runtime: node, the compiled exporter and its production dependencies. The last stage, so
# ---- that a plain `docker build .` makes the exporter's image.
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=dev
LABEL org.opencontainers.image.title="backup-exporter" \
      org.opencontainers.image.description="Prometheus exporter for backup and restore jobs of backup products (see docs/providers)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
ENV NODE_ENV=production
# The exporter needs node and nothing else: no package managers in the running image.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
WORKDIR /app
# Owned by root and not writable by the exporter's user: the image works with a read-only root.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# No configuration is built in: mount a folder holding exporter.yml at /etc/backup-exporter (a
# missing file stops the start with "/etc/backup-exporter/exporter.yml: ... no such file").
# The image's `node` user, by number so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
EXPOSE 9877
# No curl or wget in the slim image: node asks. For another port, TLS or basic authentication
# (--web.config.file) override it: docker run --health-cmd=... or --no-healthcheck.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('node:http').get('http://127.0.0.1:9877/-/healthy', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
# Node.js runs as PID 1; the exporter handles SIGTERM and SIGINT itself (finishes scrapes in flight,
# exits 0) and starts no child processes. Arguments after the image name are appended, and a later
# --config.file wins: docker run backup-exporter --log.level=debug
ENTRYPOINT ["node", "/app/dist/main.js", "--config.file=/etc/backup-exporter/exporter.yml"]
CMD []
