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

COPY requirements.txt /opt/dr_onnx/requirements.txt
# Bytecode caches and the libraries' own test suites (~60 MB) are not needed to serve.
RUN python3 -m venv "${VIRTUAL_ENV}" \
    && pip install --no-cache-dir -r /opt/dr_onnx/requirements.txt \
    && find "${VIRTUAL_ENV}" -type d \( -name __pycache__ -o -name tests \) -prune -exec rm -rf {} +

# The hook package goes on the venv's path as plain source: nothing to build, nothing more to fetch.
COPY dr_onnx_hooks /opt/dr_onnx/dr_onnx_hooks
COPY default_code /opt/dr_onnx/default_code
COPY start_server.sh /opt/dr_onnx/start_server.sh
# Put the package on the venv's path, add the server's user and CODE_DIR, and strip every
# set-user-ID / set-group-ID bit so that nothing in the container can gain privileges.
RUN echo /opt/dr_onnx > "$(python3 -c 'import site; print(site.getsitepackages()[0])')/dr_onnx_hooks.pth" \
    && python3 -c "import dr_onnx_hooks, datarobot_drum, onnxruntime" \
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
