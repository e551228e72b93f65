# dgrid worker image.
#
#   docker build -t dgrid .        (or `make image`: dgrid:local, offline-friendly)
#   docker run --rm -e NODE_ID=worker-1 -e DGRID_REPO_URL=https://github.com/OWNER/grid.git \
#              -e GIT_TOKEN=... --privileged --user 0 dgrid          (see "Executor" below)
#
# Stage 1 builds with the project's own dependency script on Debian 12;
# stage 2 carries only the binary and the runtime libraries.
#
# Executor - the honest trade-off. Tasks come from strangers and must run
# sandboxed; inside a container only one of dgrid's sandboxes can work:
#   * docker: needs a Docker engine; a container has none (mounting the
#     host's docker.sock would hand tasks the host), so it is not an option.
#   * native: namespaces + seccomp + cgroups. Docker's default seccomp and
#     AppArmor profiles forbid the namespaces and mounts it makes, the masked
#     /proc forbids mounting a fresh one, and /sys/fs/cgroup is read-only,
#     so it works only in a container started with those relaxed and as
#     root *inside* the container (to create the cgroups): simplest is
#     `--privileged --user 0`. The tasks themselves still run as an
#     unprivileged user in their own user, PID, mount and network namespaces,
#     with no capabilities and the seccomp filter. The worker process is then
#     as trusted as a host service: run the image you built.
#   * process: no isolation. In a container it would give tasks the
#     container's network and the worker's GIT_TOKEN (readable through
#     /proc). Use it only for tasks you wrote yourself.
# So the image sets no executor: the worker chooses the best that works and,
# when none does (an unprivileged container), refuses to start with a message
# naming the missing features and the two ways out (privileges, or
# DGRID_EXECUTOR=process for trusted tasks). It never silently runs
# strangers' code unsandboxed. `docker run ... dgrid doctor` shows what works.
# The image's default user is the unprivileged `dgrid` (uid 10001): enough
# for `doctor`, `status`, `dashboard`, `reap` and the process executor.
#
# Built and run by the tests (tests/integration/t0640-docker-image.sh, via
# `make image`; t0641 brings up docker-compose.yml) on a private dockerd. Not
# run there: a privileged container (the native sandbox inside the image),
# which those machines refuse ("unable to apply caps: operation not
# permitted").

# ---- build ------------------------------------------------------------------
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make clean && make -j"$(nproc)" && \
    make install PREFIX=/usr/local DESTDIR=/out

# ---- runtime ----------------------------------------------------------------
FROM debian:12-slim AS runtime
RUN apt-get update -qq && \
    apt-get install -y -qq --no-install-recommends \
        libgit2-1.5 libjansson4 libmicrohttpd12 libseccomp2 libsodium23 \
        ca-certificates python3 && \
    rm -rf /var/lib/apt/lists/* && \
    useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/dgrid dgrid && \
    install -d -o dgrid -g dgrid /srv/git
# (/srv/git: an empty named volume mounted there starts owned by dgrid)
COPY --from=build /out/usr/local/ /usr/local/
COPY packaging/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER dgrid
WORKDIR /var/lib/dgrid
ENV DGRID_CACHE=/var/lib/dgrid/cache \
    DGRID_HTTP=0.0.0.0:8000
VOLUME /var/lib/dgrid
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python3 -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"
# What the image is: set by `make image` and the release workflow
# (.github/workflows/release-image.yml), which pushes it to ghcr.io on tags.
ARG DGRID_VERSION=dev
ARG DGRID_REVISION=unknown
ARG DGRID_SOURCE=https://github.com/dgrid/dgrid
LABEL org.opencontainers.image.title="dgrid" \
      org.opencontainers.image.description="dgrid worker: a decentralized task runner on a Git repository" \
      org.opencontainers.image.version="$DGRID_VERSION" \
      org.opencontainers.image.revision="$DGRID_REVISION" \
      org.opencontainers.image.source="$DGRID_SOURCE"
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["worker"]

# ---- git daemon for docker-compose.yml's local grid ------------------------
FROM debian:12-slim AS gitd
RUN apt-get update -qq && \
    apt-get install -y -qq --no-install-recommends git && \
    rm -rf /var/lib/apt/lists/* && \
    useradd --system --uid 10001 --user-group --home-dir /srv/git dgrid && \
    install -d -o dgrid -g dgrid /srv/git
USER dgrid
EXPOSE 9418
CMD ["git", "daemon", "--reuseaddr", "--base-path=/srv/git", "--export-all", \
     "--enable=receive-pack", "--informative-errors", "/srv/git"]
