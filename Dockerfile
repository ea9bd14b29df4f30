# syntax=docker/dockerfile:1
# kubectl-gitlab-flux as a CI image: a static busybox (the shell GitLab CI runs
# job scripts with), CA certificates, and the static (musl) plugin binary at
# /usr/local/bin/kubectl-gitlab_flux. `make image` assembles the same image
# without a container engine (tools/release); see docs/distribution.md.
#
#   docker build -t kubectl-gitlab-flux \
#     --build-arg VERSION=0.1.0 --build-arg GITLAB_FLUX_GIT_COMMIT=$(git rev-parse --short=12 HEAD) .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/kubectl-gitlab-flux:v0.1.0 --push .
ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

# The static binary, built exactly as the release archives are.
FROM rust:${RUST_VERSION}-${DEBIAN} AS build
ARG TARGETARCH
ARG GITLAB_FLUX_GIT_COMMIT=unknown
ENV GITLAB_FLUX_GIT_COMMIT=${GITLAB_FLUX_GIT_COMMIT}
WORKDIR /src
COPY . .
RUN scripts/dist.sh --strict --platform "linux_${TARGETARCH}" --out /dist \
 && tar -xzf /dist/kubectl-gitlab_flux_v*_linux_"${TARGETARCH}".tar.gz -C /usr/local/bin kubectl-gitlab_flux

# The base: what tools/release puts in the image's first layer.
FROM debian:${DEBIAN}-slim AS rootfs
RUN apt-get update \
 && apt-get install -y --no-install-recommends busybox-static ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN set -eu; r=/rootfs; \
    mkdir -p "$r/bin" "$r/etc/ssl/certs" "$r/usr/local/bin" "$r/root" "$r/tmp" \
      "$r/usr/share/doc/busybox-static" "$r/usr/share/doc/ca-certificates"; \
    cp /bin/busybox "$r/bin/busybox"; \
    for a in $(/bin/busybox --list-full); do \
      case $a in bin/busybox) continue ;; */*) ;; *) continue ;; esac; \
      mkdir -p "$r/${a%/*}"; \
      case $a in bin/*) ln -s busybox "$r/$a" ;; *) ln -s /bin/busybox "$r/$a" ;; esac; \
    done; \
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"; \
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"; \
    cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"; \
    cp /usr/share/doc/busybox-static/copyright "$r/usr/share/doc/busybox-static/"; \
    cp /usr/share/doc/ca-certificates/copyright "$r/usr/share/doc/ca-certificates/"; \
    chmod 0700 "$r/root"; chmod 1777 "$r/tmp"

FROM scratch
ARG VERSION=dev
ARG GITLAB_FLUX_GIT_COMMIT=unknown
COPY --from=rootfs /rootfs/ /
COPY --from=build /usr/local/bin/kubectl-gitlab_flux /usr/local/bin/kubectl-gitlab_flux
COPY LICENSE /usr/share/doc/kubectl-gitlab-flux/LICENSE
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
LABEL org.opencontainers.image.title="kubectl-gitlab-flux" \
      org.opencontainers.image.description="kubectl plugin: push Flux OCI artifacts from GitLab CI, trigger Flux, and wait until the exact revision is applied and healthy" \
      org.opencontainers.image.source="https://gitlab.com/kubectl-gitlab-flux/kubectl-gitlab-flux" \
      org.opencontainers.image.url="https://gitlab.com/kubectl-gitlab-flux/kubectl-gitlab-flux" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GITLAB_FLUX_GIT_COMMIT}"
WORKDIR /
# No ENTRYPOINT: GitLab CI (`image:`) runs the job script with /bin/sh, and
# `docker run IMAGE kubectl-gitlab_flux …` works as is.
CMD ["kubectl-gitlab_flux", "--help"]
