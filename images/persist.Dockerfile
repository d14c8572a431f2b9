# The persist function: the runtime image plus its entry point, started exactly as the
# local stack starts it (and as knative/functions/persist.yaml does).
FROM dev.local/sentinel-runtime:latest
COPY functions/persist/ functions/persist/
EXPOSE 8080
CMD ["functions-framework", "--target", "handle", "--source", "functions/persist/main.py"]
