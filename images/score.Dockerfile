# The score function: the runtime image plus its entry point, started exactly as the
# local stack starts it (and as knative/functions/score.yaml does).
FROM dev.local/sentinel-runtime:latest
COPY functions/score/ functions/score/
EXPOSE 8080
CMD ["functions-framework", "--target", "handle", "--source", "functions/score/main.py"]
