FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
        libpq-dev gcc libopenblas0-pthread curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
COPY deepflame_web ./deepflame_web
COPY offers ./offers
COPY segments ./segments
COPY recommender ./recommender
RUN pip install --no-cache-dir "torch==2.13.0" \
    && pip install --no-cache-dir .
COPY . .
ENV SPARK_LOCAL_IP=127.0.0.1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "deepflame_web.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
