#!/bin/sh
# The image's entrypoint: `stopgate ARGS` (default `run`), refusing to run with the example
# credentials on the image's all-interfaces listeners (gateway/ops/docker_check.py says what to set).
set -eu
if [ "$#" -eq 0 ]; then
    set -- run
fi
if [ "$1" = "run" ]; then
    python -m gateway.ops.docker_check "$@" || exit 2
fi
exec stopgate "$@"
