# The base of the four function images: Python, the project's main dependencies
# exactly as uv.lock pins them (no extras: no trainer, no Prefect, no Kafka client,
# no local-stack binaries) and the sentinel package, run by an unprivileged user.
# Built as dev.local/sentinel-runtime:latest by `task k8s:images`; never deployed itself.
FROM python:3.11-slim-bookworm AS dependencies
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock ./
RUN UV_PROJECT_ENVIRONMENT=/opt/venv UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never \
    uv sync --frozen --no-dev --no-install-project

FROM python:3.11-slim-bookworm
RUN groupadd --gid 10001 sentinel && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp sentinel
COPY --from=dependencies /opt/venv /opt/venv
# Sources are compiled at build time: the root filesystem is read-only at run time,
# and a cold start from zero should not spend time compiling.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /app
COPY sentinel/ sentinel/
RUN python -m compileall -q sentinel
USER 10001:10001
