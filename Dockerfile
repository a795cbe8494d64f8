# hxrun in a container. Two images from one build:
#   docker build -t hxrun .                  # the default: distroless, no shell, ~25 MB
#   docker build -t hxrun:ci --target ci .   # with a shell, for CI jobs that run `script:` lines
# Then:
#   docker run --rm -v "$PWD:/work" -e OLLAMA_HOST=http://llm-02:11434 hxrun suites/phase6.yaml
# Reports land in /work/hxrun-reports (the mounted folder). For GPU checks run it with the
# NVIDIA Container Toolkit (`--gpus all`): hxrun loads NVML from the driver at run time.

# Build: the release binary, from the locked dependencies.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
    && strip target/release/hxrun \
    && ./target/release/hxrun --version

# For CI runners (GitLab, Jenkins agents) that need a shell in the job's image.
FROM debian:bookworm-slim AS ci
# The CA bundle follows Debian's security updates: pinning its version would freeze it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/hxrun /usr/local/bin/hxrun
COPY --from=build /src/schemas/suite.schema.json /usr/share/hxrun/suite.schema.json
WORKDIR /work
CMD ["hxrun", "--help"]

# The default image: distroless (glibc and CA certificates, no shell, no package manager).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/hxrun /usr/local/bin/hxrun
COPY --from=build /src/schemas/suite.schema.json /usr/share/hxrun/suite.schema.json
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/hxrun"]
CMD ["--help"]
