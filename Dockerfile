# The cleaner HTTP service on Debian slim (OpenCC has no musl wheel, so no Alpine).
# The install step is the test suite's own (`pip install '.[html,service]'`, checked by
# tests/service/test_docker.py against the Makefile); no Docker engine runs in CI.
#   docker build -t cleaner .
#   docker run -p 8000:8000 -e CLEANER_API_KEYS=change-me -v cleaner-data:/data cleaner
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 10001 cleaner && mkdir -p /data && chown cleaner:cleaner /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cleaner ./cleaner
COPY service ./service
RUN pip install --no-cache-dir '.[html,service]'

USER cleaner
WORKDIR /data
VOLUME ["/data"]
# Keys come from the environment (CLEANER_API_KEYS=k1,k2); without them the server
# refuses the public bind and exits with a message saying so.
ENV CLEANER_DB_PATH=/data/cleaner.sqlite3 CLEANER_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CLEANER_PORT', '8000'), timeout=4).status == 200 else 1)"]
CMD ["cleaner", "serve", "--host", "0.0.0.0"]
