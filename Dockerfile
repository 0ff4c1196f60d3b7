# syntax=docker/dockerfile:1
# One image for every Chirp process. It has no entrypoint: the command picks the process, e.g.
#   python -m services.graph | services.post | services.timeline --role api | services.notification --role worker
#   chirp admin setup
# and all configuration comes from CHIRP_* environment variables (see k8s/base/config.env).
#
#   docker build -t chirp:dev .
#   docker run --rm chirp:dev                # usage of the chirp CLI
ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: the virtual environment with the pinned dependencies, the generated protobuf code and Chirp itself.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src

# The build tools (pip, setuptools, grpcio-tools for protoc) get a venv of their own, which the runtime stage does not
# copy. Its pip also installs into /opt/venv (--python), so /opt/venv needs no pip or setuptools of its own.
COPY requirements-build.lock ./
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes -r requirements-build.lock

# The runtime dependencies only, each checked against its hash. This layer is reused until requirements.lock changes.
COPY requirements.lock ./
RUN python -m venv --without-pip /opt/venv \
 && /opt/build/bin/pip --python /opt/venv/bin/python install --require-hashes -r requirements.lock

COPY protos ./protos
RUN mkdir -p gen/python \
 && /opt/build/bin/python -m grpc_tools.protoc -I protos --python_out=gen/python --pyi_out=gen/python --grpc_python_out=gen/python \
      $(find protos -name '*.proto')

COPY pyproject.toml ./
COPY services ./services
# --no-build-isolation: the wheel is built with the setuptools pinned in requirements-build.lock instead of fetching
# one. It goes in without dependencies (requirements.lock has them all) and `pip check` fails the build if one is
# missing.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/dist . \
 && /opt/build/bin/pip --python /opt/venv/bin/python install --no-deps /tmp/dist/chirp-*.whl \
 && /opt/build/bin/pip --python /opt/venv/bin/python check

# ---- runtime: the same base image (the venv's interpreter is /usr/local/bin/python3.11 in both), no build tools.
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 chirp \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin chirp \
 && install --directory --owner 10001 --group 10001 /var/lib/chirp
COPY --from=builder /opt/venv /opt/venv
# The working directory is the only place a process writes to: the faust worker (timeline/notification --role
# worker) keeps its state in ./chirp-<service>-data there. Kubernetes mounts an emptyDir on it because the root
# file system is read-only.
WORKDIR /var/lib/chirp
USER 10001:10001
# gRPC: graph 50051, post 50052, timeline 50053, notification 50054; Prometheus /metrics when CHIRP_METRICS_PORT=9090.
EXPOSE 50051 50052 50053 50054 9090
CMD ["chirp", "--help"]
