# The controller and paper image: `stratops` as its entry point, run as a non-root user on a
# read-only root filesystem, as manifests/deploy/60-statefulset.yaml runs it.
#   docker build -t registry.example.com/desk/stratops:0.1.0 .
# Writable paths are volumes: /tmp (HOME, caches) and /var/lib/stratops (journal and state).

FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY stratops ./stratops
RUN pip install --no-cache-dir build==1.2.2 \
    && python -m build --wheel --outdir /dist

FROM python:3.11.11-slim-bookworm
# git: the controller reads and writes the desk repository through GitPython.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /dist /dist
RUN pip install --no-cache-dir /dist/*.whl \
    && rm -rf /dist \
    && groupadd --gid 10001 stratops \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp stratops
ENV HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 9090
ENTRYPOINT ["stratops"]
CMD ["controller", "run", "--help"]
