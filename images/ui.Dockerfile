# The analysts' UI: the main dependencies plus the `ui` extra (Flask-WTF, gunicorn), the
# layers the UI runs on, run by an unprivileged user. tests/unit/test_image_imports.py
# imports every module copied here with only this image's dependencies.
FROM python:3.11-slim-bookworm AS dependencies
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock ./
RUN UV_PROJECT_ENVIRONMENT=/opt/venv UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never \
    uv sync --frozen --no-dev --no-install-project --extra ui

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
COPY sentinel/codec/ sentinel/codec/
COPY sentinel/stores/ sentinel/stores/
COPY sentinel/serving/ sentinel/serving/
COPY ui/ ui/
RUN python -m compileall -q sentinel ui
USER 10001:10001
EXPOSE 8080
CMD ["python", "-m", "ui", "--host", "0.0.0.0", "--port", "8080"]
