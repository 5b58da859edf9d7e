# syntax=docker/dockerfile:1
# The image the in-cluster Job (deploy/job.yaml) and the pre-upgrade hook chart
# (deploy/helm-hook) run: the upgrade-preflight binary as entrypoint, non-root, nothing else
# (no shell, no package manager), so it runs under readOnlyRootFilesystem with all
# capabilities dropped. Its name and tag come from Cargo.toml (`[package.metadata.upgrade-preflight]
# image`, `version`); `scripts/dist` prints the build command. Not built in CI here (the build
# machine has no Docker).
FROM docker.io/library/rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && cp target/release/upgrade-preflight /upgrade-preflight

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /upgrade-preflight /upgrade-preflight
USER 65532:65532
ENTRYPOINT ["/upgrade-preflight"]
