# Sluice: multi-stage build. The runtime image holds the compiled service and its production
# dependencies only, and runs as the unprivileged `node` user.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY examples ./examples
COPY schemas ./schemas
USER node
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["run", "--config", "/etc/sluice/pipeline.yaml"]
