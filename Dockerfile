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
ENTRYPOINT ["floorwatch"]
CMD ["--help"]
