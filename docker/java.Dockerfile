# The Java CLI (send, recv). Build steps are the Makefile's: `make -C java build`.
FROM maven:3.9-eclipse-temurin-17 AS build
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY spec ./spec
COPY java ./java
RUN make -C java build

FROM eclipse-temurin:17-jre
RUN useradd --system --no-create-home --shell /usr/sbin/nologin condcast
COPY --from=build /src/java/target/condcast-java-cli.jar /opt/condcast/condcast-java-cli.jar
USER condcast
ENTRYPOINT ["java", "-jar", "/opt/condcast/condcast-java-cli.jar"]
