# The TypeScript CLI (send, recv, serve). Build steps are the Makefile's: `make ts`.
FROM node:24-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY scripts ./scripts
COPY spec ./spec
COPY ts ./ts
RUN make ts
RUN cd ts && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=build /src/ts/package.json ./
COPY --from=build /src/ts/node_modules ./node_modules
COPY --from=build /src/ts/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
