# The alert function: the runtime image plus its entry point, started exactly as the
# local stack starts it (and as knative/functions/alert.yaml does).
FROM dev.local/sentinel-runtime:latest
COPY functions/alert/ functions/alert/
EXPOSE 8080
CMD ["functions-framework", "--target", "handle", "--source", "functions/alert/main.py"]
