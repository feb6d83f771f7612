# jobgate: `docker build -t jobgate . && docker run -p 8000:8000 jobgate` serves the demo;
# mount a config and set JOBGATE_CONFIG to front real vendor accounts.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY src ./src
RUN pip install -c requirements.lock . && useradd --system --no-create-home jobgate
USER jobgate

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["jobgate", "serve", "--host", "0.0.0.0", "--port", "8000"]
