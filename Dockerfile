# One image for every process of the stack: migrate, api, mllp, worker, scheduler
# (docker-compose.yml). Two stages: the build stage installs the project (runtime
# dependencies only, no dev extras) into a virtualenv; the runtime stage copies that
# virtualenv and nothing else, so the running container never installs or downloads anything.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/sodium-monitor
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY workers ./workers
COPY migrations ./migrations
# A regular (non-editable) install: the package, its templates and the migrations end up in
# the virtualenv's site-packages, and /src is left behind with this stage.
RUN /opt/sodium-monitor/bin/pip install .

FROM python:3.11-slim
# PIP_NO_INDEX: no package index at run time; a pip call in the container fails, never fetches.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/sodium-monitor/bin:$PATH \
    PIP_NO_INDEX=1 \
    SODIUM_LOG_FORMAT=json
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin sodium
COPY --from=build /opt/sodium-monitor /opt/sodium-monitor
# An empty, root-owned working directory: no .env is read from it and the embedded SQLite
# default cannot be written by accident (the stack sets SODIUM_DATABASE_URL).
WORKDIR /srv/sodium-monitor
USER sodium:sodium
# api (sodium-monitor api --port 8000), MLLP listener (sodium-monitor mllp --port 2575)
EXPOSE 8000 2575
CMD ["sodium-monitor", "--help"]
