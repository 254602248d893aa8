# ONNX drop-in environment for DataRobot custom models (DRUM + dr_onnx_hooks).
# Build elsewhere than docker.io with: docker build --build-arg BASE_IMAGE=<image with python3> .
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

ENV VIRTUAL_ENV=/opt/venv \
    HOME=/opt \
    CODE_DIR=/opt/code \
    ADDRESS=0.0.0.0:8080 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
ENV PATH=${VIRTUAL_ENV}/bin:${PATH}

# skl2onnx's default TfidfVectorizer export has a StringNormalizer that names no locale, for which
# onnxruntime asks the C library for en_US.UTF-8: with it here, such a model is served as exported
# (without it the hooks serve it with C.UTF-8 and a warning). Debian's package versions differ
# between base images (bookworm, trixie), hence no version pin.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends locales \
    && echo "en_US.UTF-8 UTF-8" > /etc/locale.gen \
    && locale-gen \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.txt /opt/dr_onnx/requirements.txt
# Bytecode caches and the libraries' own test suites (~60 MB) are not needed to serve.
RUN python3 -m venv "${VIRTUAL_ENV}" \
    && pip install --no-cache-dir -r /opt/dr_onnx/requirements.txt \
    && find "${VIRTUAL_ENV}" -type d \( -name __pycache__ -o -name tests \) -prune -exec rm -rf {} +

# The hook package is installed into the venv (without dependencies: the pins above are the
# environment), which also installs its console script, dr-onnx-inspect. pip builds it in an
# isolated environment with the setuptools that pyproject.toml asks for, fetched from the index
# like the requirements, so no build tool is left in the venv; the sources are removed after.
COPY pyproject.toml README.md /opt/dr_onnx/src/
COPY dr_onnx_hooks /opt/dr_onnx/src/dr_onnx_hooks
COPY default_code /opt/dr_onnx/default_code
COPY start_server.sh /opt/dr_onnx/start_server.sh
# Install the package, add the server's user and CODE_DIR, and strip every set-user-ID /
# set-group-ID bit so that nothing in the container can gain privileges.
RUN pip install --no-cache-dir --no-deps --no-compile /opt/dr_onnx/src \
    && rm -rf /opt/dr_onnx/src \
    && python3 -c "import dr_onnx_hooks, datarobot_drum, onnxruntime" \
    && dr-onnx-inspect --help > /dev/null \
    && echo "drum:x:10001:0:DRUM server:/opt:/usr/sbin/nologin" >> /etc/passwd \
    && mkdir -p "${CODE_DIR}" \
    && cp /opt/dr_onnx/start_server.sh "${CODE_DIR}/start_server.sh" \
    && chown -R 10001:0 "${CODE_DIR}" \
    && chmod 0755 /opt/dr_onnx/start_server.sh "${CODE_DIR}/start_server.sh" \
    && find / -xdev -type f -perm /6000 -exec chmod a-s {} +

WORKDIR ${CODE_DIR}
USER 10001
EXPOSE 8080

# Liveness: DRUM's /ping/ under URL_PREFIX on ADDRESS's port.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; port = os.environ.get('ADDRESS', ':8080').rsplit(':', 1)[-1]; urllib.request.urlopen('http://127.0.0.1:' + port + os.environ.get('URL_PREFIX', '').rstrip('/') + '/ping/', timeout=4)"]

ENTRYPOINT ["sh", "-c", "exec /opt/dr_onnx/start_server.sh \"$@\"", "--"]
