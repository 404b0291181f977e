# The reconcile command in a container, for schedulers other than GitHub (deploy/README.md).
# Build: docker build -t reconcile:0.1.0 .    Run: docker run --rm reconcile:0.1.0 --version
#
# The base image is pinned to an exact release tag (not a moving tag such as 3.11-slim); pin it
# by digest too where your registry policy asks for it: python:3.11.11-slim-bookworm@sha256:...

# Stage 1: build the wheel from the source tree (build tools never reach the final image).
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
RUN python -m pip install --no-cache-dir build==1.6.1
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
# The local sandbox ships in the same wheel (`reconcile demo`, `reconcile sandbox`).
COPY rescue_sandbox ./rescue_sandbox
RUN python -m build --wheel --outdir /dist

# Stage 2: the wheel and its dependencies, run as an unprivileged user.
FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --gid 10001 reconcile \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/reconcile --shell /usr/sbin/nologin reconcile
COPY --from=build /dist/ /tmp/dist/
RUN python -m pip install --no-cache-dir /tmp/dist/*.whl && rm -rf /tmp/dist
# Tenant files: mounted here (docker run -v), or fetched by git-sync in Kubernetes (docs/kubernetes.md).
WORKDIR /work
USER 10001:10001
ENTRYPOINT ["reconcile"]
CMD ["--help"]
