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

# Serving defaults (README, "Serving under load"). DRUM 1.18.1 starts gunicorn with its
# gunicorn.conf.py, and gunicorn applies GUNICORN_CMD_ARGS after that file, so these override
# DRUM's defaults (one sync worker that serves one connection at a time) but never a value set
# through DRUM's own runtime parameter. Ours go first: flags the user put in GUNICORN_CMD_ARGS win.
runtime_param_set() {
    eval "test -n \"\${MLOPS_RUNTIME_PARAM_$1:-}\""
}
serving_args=""
if runtime_param_set DRUM_GUNICORN_WORKER_CLASS; then
    echo "dr_onnx: gunicorn worker class from the runtime parameter DRUM_GUNICORN_WORKER_CLASS"
else
    # Each request read whole by an event loop before it is handled, every wait on a client bounded
    # (DR_ONNX_IDLE_TIMEOUT), long requests in a native thread (dr_onnx_hooks/workers.py).
    serving_args="--worker-class dr_onnx_hooks.workers.BufferingWorker"
fi
if ! runtime_param_set DRUM_WORKER_CONNECTIONS; then
    # Connections one worker holds at once (DRUM's default, 5, would let five stalled clients take
    # every slot); more wait in the listen backlog. A connection waiting for its request costs the
    # worker a few KB (at most 64 KiB of headers, its body within the body budget).
    serving_args="$serving_args --worker-connections 1000"
fi
# No gunicornc control socket: nothing in a container uses it, and gunicorn would create it under
# $HOME (/opt, not writable by the image's user: an error line at every start).
serving_args="$serving_args --no-control-socket"
GUNICORN_CMD_ARGS="${serving_args# } ${GUNICORN_CMD_ARGS:-}"
GUNICORN_CMD_ARGS="${GUNICORN_CMD_ARGS% }"
export GUNICORN_CMD_ARGS
exec drum server "$@"
