# The ingest function: the runtime image plus its entry point, started exactly as the
# local stack starts it (and as knative/functions/ingest.yaml does).
FROM dev.local/sentinel-runtime:latest
COPY functions/ingest/ functions/ingest/
EXPOSE 8080
CMD ["functions-framework", "--target", "handle", "--source", "functions/ingest/main.py"]
