# syntax=docker/dockerfile:1
# Build stage: compile TypeScript (src only: tsconfig.build.json leaves out the test bed)
# and build the native SQLite binding.
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: the daemon only (dist/src), no compiler, no dev dependencies, no test
# bed, not root. Writes go to the volume only, so it runs with --read-only
# (docs/deployment.md: add --tmpfs /tmp for SQLite's temporary files).
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/lasso-canary
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
COPY config/canary.yaml ./config/canary.yaml
COPY checks ./checks
RUN mkdir -p /var/lib/lasso-canary && chown node:node /var/lib/lasso-canary
USER node
VOLUME ["/var/lib/lasso-canary"]
EXPOSE 9464
ENV CANARY_DB=/var/lib/lasso-canary/canary.db \
    CANARY_LISTEN=0.0.0.0:9464
# Liveness (/healthz), at the address the daemon's own config resolves to: it follows
# CANARY_LISTEN or a mounted config's `listen:`. Never /readyz: an unreachable Lasso makes
# the canary unready, and restarting it would not help.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["node", "dist/src/cli.js", "healthcheck", "--config", "config/canary.yaml"]
# Exec form: node is PID 1 and receives SIGTERM itself (it flushes the store and exits).
# A small young generation, one V8 background thread, and a heap kept near its live size
# (--expose-gc lets the daemon collect when the heap outgrows it): README, Footprint.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--v8-pool-size=1", "--expose-gc", "dist/src/cli.js"]
CMD ["run", "--config", "config/canary.yaml"]
