# The mcis image: the worker by default (`python -m worker`); the same image runs the local cloud
# (`python -m localcloud ...`) and the CLI (`mcis ...`). Every setting comes from the environment
# (settings.py); see docker-compose.yml.
# The dashboard's country shapes (Natural Earth via npm's world-atlas, as `make install` fetches
# them, checked against the same digest).
FROM node:20-slim AS world-atlas
WORKDIR /atlas
RUN npm pack --silent world-atlas@2.0.2 >/dev/null \
    && tar -xzf world-atlas-2.0.2.tgz --strip-components=1 package/countries-110m.json package/LICENSE \
    && echo "2516c915867c7baf18ddec727aec46c315541a07cfb3d79a6559b05d5e94eee8  countries-110m.json" \
       | sha256sum --check --quiet \
    && rm world-atlas-2.0.2.tgz

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MCIS_HOME=/var/lib/mcis

WORKDIR /app

# Dependencies first (a layer kept while only the code changes), then the project itself.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
COPY --from=world-atlas /atlas/ api/dashboard/static/vendor/world-atlas/
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /var/lib/mcis --create-home mcis \
    && chown -R mcis:mcis /var/lib/mcis

USER mcis
# SIGTERM (docker stop) makes the worker finish its running activities and leave its task queue.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "worker"]
