# syntax=docker/dockerfile:1
# Build stage: compile TypeScript and build the native SQLite binding.
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY sim ./sim
RUN npm run build && npm prune --omit=dev

# Runtime stage: no compiler, no dev dependencies, not root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/lasso-canary
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
COPY checks ./checks
RUN mkdir -p /var/lib/lasso-canary && chown node:node /var/lib/lasso-canary
USER node
VOLUME ["/var/lib/lasso-canary"]
EXPOSE 9464
ENV CANARY_DB=/var/lib/lasso-canary/canary.db \
    CANARY_LISTEN=0.0.0.0:9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: the daemon is PID 1's direct child-less process and receives SIGTERM itself.
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["run", "--config", "config/canary.yaml"]
