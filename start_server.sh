#!/bin/sh
# Entrypoint of the ONNX drop-in environment: starts DRUM's prediction server.
# DataRobot passes no arguments; it sets TARGET_TYPE, POSITIVE_CLASS_LABEL, NEGATIVE_CLASS_LABEL,
# CLASS_LABELS_FILE or CLASS_LABELS, URL_PREFIX, ... which `drum server` reads itself.
set -e

if [ "${ENABLE_CUSTOM_MODEL_RUNTIME_ENV_DUMP:-0}" = "1" ]; then
    # The environment holds credentials: print it only when asked, with secret-looking values masked.
    python3 -c '
import os, re
secret = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.I)
print("Environment (values of secret-looking names masked):")
for name in sorted(os.environ):
    value = "*****" if secret.search(name) else os.environ[name]
    print(name + "=" + repr(value))
'
fi

CODE_DIR="${CODE_DIR:-/opt/code}"
if [ -z "$(find "$CODE_DIR" -name custom.py -print -quit 2>/dev/null)" ]; then
    # An artifact-only model folder (just the .onnx): serve it through the environment's own
    # one-line custom.py, which loads the model from DR_ONNX_MODEL_DIR. A model that brings
    # its own custom.py is served with it instead.
    export DR_ONNX_MODEL_DIR="$CODE_DIR"
    export CODE_DIR=/opt/dr_onnx/default_code
fi
export CODE_DIR
exec drum server "$@"
