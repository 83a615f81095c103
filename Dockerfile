# Floorwatch image: every `floorwatch` command (worker, gateway, simulate, replay, …).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams streams
COPY agents agents
COPY wallboard wallboard
COPY config config
COPY floorwatch floorwatch
RUN pip install --no-cache-dir . && useradd --create-home floorwatch
USER floorwatch
ENV FLOORWATCH_WORKER__DATA_DIR=/tmp/floorwatch
# 8080: gateway (page, API, /metrics); 9101: a worker's /metrics when FLOORWATCH_WORKER__METRICS_PORT is set
EXPOSE 8080 9101
ENTRYPOINT ["floorwatch"]
CMD ["--help"]
