# Two stages: build with the Swift toolchain, run from a slim Debian image. The binary links
# the Swift runtime statically, so the runtime image needs only the C libraries it uses.
FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends librdkafka-dev librabbitmq-dev libssl-dev libyaml-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product sluice \
    && install -D -s .build/release/sluice /out/sluice

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends librdkafka1 librabbitmq4 libssl3 libyaml-0-2 libstdc++6 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 65532 --home-dir /var/lib/sluice --create-home sluice \
    && install -d -o sluice -g sluice /var/lib/sluice/data
COPY --from=build /out/sluice /usr/local/bin/sluice
COPY config /etc/sluice
USER sluice
WORKDIR /var/lib/sluice
EXPOSE 8080 9092
ENTRYPOINT ["/usr/local/bin/sluice"]
VOLUME /var/lib/sluice/data
CMD ["serve", "--config", "/etc/sluice", "--data-dir", "/var/lib/sluice/data"]
