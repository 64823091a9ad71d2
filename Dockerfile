# One image for every docfleet process: the compose file picks the command (worker, relay, migrate, audit).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 docfleet

# Dependencies first, in their own layer: a change to the code does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir domain adapters workers \
    && touch domain/__init__.py adapters/__init__.py workers/__init__.py \
    && pip install . \
    && pip uninstall --yes docfleet \
    && rm -rf domain adapters workers build *.egg-info

COPY domain ./domain
COPY adapters ./adapters
COPY workers ./workers
RUN pip install --no-deps . && rm -rf build *.egg-info

USER docfleet
CMD ["docfleet", "--help"]
