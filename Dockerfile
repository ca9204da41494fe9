# confpy as a container's entrypoint: `confpy exec` renders CONFDIR's templates from etcd,
# starts the image's command as its child, reloads it when files change, forwards signals
# and reaps every child as PID 1.
#
#   docker build -t confpy .
#   docker run -e CONFPY_ENDPOINTS=http://etcd:2379 -v ./myconf:/etc/confpy:ro \
#       confpy myapp --config /etc/myapp/myapp.conf
#
# An application image starts FROM this one, copies its CONFDIR to /etc/confpy and sets
# its CMD. The files confpy writes must be writable by the confpy user (or set USER root).
# BASE is any image with python3 (3.11 or newer) and its venv module; both stages must
# use the same one, because the virtual environment is copied from the first to the second.
ARG BASE=python:3.12-slim

# Stage 1: build confpy's wheel and install it with its dependencies into /opt/confpy.
# Behind a TLS-intercepting proxy, give pip the proxy's CA as a build secret:
#   docker build --secret id=pip-ca,src=/etc/ssl/certs/ca-certificates.crt .
FROM ${BASE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY confpy ./confpy
# The scenario's templates and units ship inside the wheel (`confpy demo` reads them).
COPY templates ./templates
COPY units ./units
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
 && python3 -m venv /opt/confpy \
 && /opt/confpy/bin/pip wheel --no-cache-dir --disable-pip-version-check --quiet \
        --no-deps --wheel-dir /wheels . \
 && /opt/confpy/bin/pip install --no-cache-dir --disable-pip-version-check --quiet \
        /wheels/confpy-*.whl \
 && /opt/confpy/bin/pip uninstall --yes --quiet pip setuptools \
 && rm -f /opt/confpy/bin/activate* \
 && /opt/confpy/bin/confpy --version

# Stage 2: the installed environment only; no pip, no build tools, no sources.
FROM ${BASE}
COPY --from=build /opt/confpy /opt/confpy
RUN useradd --uid 10001 --user-group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin confpy \
 && mkdir -p /etc/confpy/conf.d /etc/confpy/templates
ENV PATH=/opt/confpy/bin:$PATH \
    CONFPY_CONFDIR=/etc/confpy \
    CONFPY_LOG_FORMAT=json \
    PYTHONDONTWRITEBYTECODE=1
USER confpy
# Wait up to 5 minutes for etcd and the keys, then run CMD (given after the image name).
ENTRYPOINT ["confpy", "exec", "--wait-for-keys", "5m", "--reload-signal", "HUP", "--"]
