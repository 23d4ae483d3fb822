# The cleaner CLI on Debian slim (OpenCC has no musl wheel, so no Alpine).
# The same steps as `make setup` in a fresh venv, which the test suite runs in CI.
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 cleaner
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cleaner ./cleaner
COPY service ./service
RUN pip install --no-cache-dir '.[html]'

USER cleaner
WORKDIR /data
ENTRYPOINT ["cleaner"]
CMD ["--help"]
