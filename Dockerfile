# One image for every service; docker-compose.yml picks the service with `layers serve <name>`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Fonts the renderer draws hooks with (colour emoji and the scripts influencers write in).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-core fonts-noto-color-emoji fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY layers ./layers
COPY common ./common
COPY services ./services
COPY gateway ./gateway
COPY cli ./cli
RUN pip install --no-cache-dir .

RUN useradd --create-home --uid 10001 layers && mkdir -p /data && chown layers /data
USER layers
ENV LAYERS_DATA_DIR=/data
ENTRYPOINT ["layers"]
