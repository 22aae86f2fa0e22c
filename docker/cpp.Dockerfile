# The C++ tools (condcast-send, condcast-recv). Build steps are the Makefile's: `make -C cpp build`
# (which installs its Debian build dependencies itself, as root).
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY spec ./spec
COPY cpp ./cpp
RUN make -C cpp build

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libprotobuf32 libssl3 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin condcast
COPY --from=build /src/cpp/build/condcast-send /src/cpp/build/condcast-recv /usr/local/bin/
USER condcast
ENTRYPOINT ["/usr/local/bin/condcast-send"]
