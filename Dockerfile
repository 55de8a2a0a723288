# The caseyard services: one image, the service chosen by the command
# (`caseyard run coordinator`, `caseyard run classifier`, `caseyard run inbox`, ...).
#
# The image is the repository checkout installed in place: the built-in models train on
# first use from data/ in the repo, and the coordinator loads pipelines/ from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CASEYARD_DATA_DIR=/data

# Tesseract reads scans and photos (agents/ocr.py).
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-eng \
       tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bus bus
COPY schemas schemas
COPY agents agents
COPY coordinator coordinator
COPY caseyard caseyard
COPY pipelines pipelines
COPY data data
COPY examples examples
RUN pip install -e . \
    && useradd --create-home --uid 10001 caseyard \
    && mkdir -p /data && chown caseyard /data

USER caseyard
VOLUME ["/data"]
ENTRYPOINT ["caseyard"]
CMD ["--help"]
