# One image for every process of the stack (api, listener, worker, scheduler, migrate).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY workers ./workers
COPY migrations ./migrations
RUN pip install --no-cache-dir . && useradd --system --uid 10001 sodium
USER sodium
EXPOSE 8000 2575
CMD ["sodium-monitor", "--help"]
