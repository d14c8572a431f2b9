# Every function's image: Python, the project's main dependencies exactly as uv.lock pins
# them (no extras: no trainer, no Prefect, no Kafka client, no local-stack binaries), the
# layers a function runs on, and the one function the FUNCTION build argument names, run
# by an unprivileged user and started exactly as the local stack starts it:
#   docker build -f images/function.Dockerfile --build-arg FUNCTION=score -t dev.local/sentinel-score .
FROM python:3.11-slim-bookworm AS dependencies
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock ./
RUN UV_PROJECT_ENVIRONMENT=/opt/venv UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never \
    uv sync --frozen --no-dev --no-install-project

FROM python:3.11-slim-bookworm
ARG FUNCTION
RUN test -n "$FUNCTION" || { echo "build with --build-arg FUNCTION=ingest|score|persist|alert" >&2; exit 1; }
RUN groupadd --gid 10001 sentinel && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp sentinel
COPY --from=dependencies /opt/venv /opt/venv
# functions-framework reads its --target and --source from these; --asgi serves them from an event loop.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    FUNCTION_TARGET=handle \
    FUNCTION_SOURCE=functions/${FUNCTION}/main.py
WORKDIR /app
COPY sentinel/__init__.py sentinel/config.py sentinel/
COPY sentinel/core/ sentinel/core/
COPY sentinel/codec/ sentinel/codec/
COPY sentinel/stores/ sentinel/stores/
COPY sentinel/serving/ sentinel/serving/
COPY functions/__init__.py functions/
COPY functions/${FUNCTION}/ functions/${FUNCTION}/
# Sources are compiled at build time: the root filesystem is read-only at run time,
# and a cold start from zero should not spend time compiling.
RUN python -m compileall -q sentinel functions
USER 10001:10001
EXPOSE 8080
CMD ["functions-framework", "--asgi"]
