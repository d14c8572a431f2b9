# Training and Prefect: the main dependencies plus the `training` extra (XGBoost,
# ONNX export, Prefect). One image runs the Prefect server, the worker that serves
# the retrain flow, and the prepare Job (migrations and the first champion).
FROM python:3.11-slim-bookworm AS dependencies
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock ./
RUN UV_PROJECT_ENVIRONMENT=/opt/venv UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never \
    uv sync --frozen --no-dev --no-install-project --extra training

FROM python:3.11-slim-bookworm
RUN groupadd --gid 10001 sentinel && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp sentinel
COPY --from=dependencies /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /app
COPY sentinel/__init__.py sentinel/config.py sentinel/
COPY sentinel/core/ sentinel/core/
COPY sentinel/stores/ sentinel/stores/
COPY training/ training/
COPY images/prepare_database.py ./
RUN python -m compileall -q sentinel training prepare_database.py
USER 10001:10001
CMD ["prefect", "server", "start", "--host", "0.0.0.0", "--port", "4200"]
