# Stopgate: SMPP 3.4 opt-out compliance proxy.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STOPGATE_CONFIG=/etc/stopgate/stopgate.toml

RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin stopgate \
    && mkdir -p /data /etc/stopgate && chown stopgate /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY tools ./tools
RUN pip install --no-cache-dir '.[fast]'

# The example config, with the store on the volume and listeners on all interfaces. Its example token
# and passwords make the entrypoint refuse to run: mount a config of your own (and set
# STOPGATE_ADMIN_TOKEN, which replaces admin.tokens).
COPY config/example.toml /etc/stopgate/stopgate.toml
RUN sed -i -e 's|^path = "stopgate.db"|path = "/data/stopgate.db"|' \
           -e '0,/^host = "127.0.0.1"/s//host = "0.0.0.0"/' \
           -e 's|^listen = "127.0.0.1:8025"|listen = "0.0.0.0:8025"|' /etc/stopgate/stopgate.toml

USER stopgate
VOLUME ["/data"]
EXPOSE 2775 8025
# /healthz on the admin address of the config in force (not a fixed port).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-m", "gateway.ops.docker_check", "--health"]

COPY docker/entrypoint.sh /usr/local/bin/stopgate-entrypoint
ENTRYPOINT ["stopgate-entrypoint"]
CMD ["run"]
