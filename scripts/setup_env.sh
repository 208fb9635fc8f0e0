#!/usr/bin/env bash
# Create .venv with the pinned CPU stack, mmcv 2.1.0 compiled with ops, and sbr (editable).
#
# Knobs (environment variables):
#   VENV             virtualenv path                       (default: .venv)
#   PYTHON           interpreter used to create it         (default: python3)
#   TORCH_VERSION    torch to pin                          (default: 2.13.0)
#   TORCH_INDEX_URL  extra index for torch, e.g. https://download.pytorch.org/whl/cpu
#                    (default: empty = the machine's pip configuration)
#   SBR_WHEELHOUSE   where built mmcv wheels are cached    (default: ~/.cache/sbr/wheelhouse)
#   FORCE_CUDA, TORCH_CUDA_ARCH_LIST   GPU nodes: build mmcv's CUDA ops (see README)
#   MAX_JOBS         parallel compile jobs for mmcv        (default: number of cores)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-}
MMCV_VERSION=2.1.0
WHEELHOUSE_ROOT=${SBR_WHEELHOUSE:-$HOME/.cache/sbr/wheelhouse}
export MAX_JOBS=${MAX_JOBS:-$(nproc)}

log() { printf '[setup %(%H:%M:%S)T] %s\n' -1 "$*"; }
start=$SECONDS

if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q)

log "torch==$TORCH_VERSION"
if [ -n "$TORCH_INDEX_URL" ]; then
    "${PIP[@]}" "torch==$TORCH_VERSION" --extra-index-url "$TORCH_INDEX_URL"
else
    "${PIP[@]}" "torch==$TORCH_VERSION"
fi
"${PIP[@]}" -c constraints.txt "setuptools>=77.0.3,<82" wheel ninja psutil numpy

# The mmcv wheel depends on the torch ABI, the Python version and whether CUDA ops are in it.
pyver=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
torchver=$("$PY" -c 'import torch; print(torch.__version__.replace("+", "_"))')
flavour=cpu
[ "${FORCE_CUDA:-0}" = "1" ] && flavour="cuda-${TORCH_CUDA_ARCH_LIST:-native}"
flavour=${flavour// /_}
WHEELHOUSE="$WHEELHOUSE_ROOT/mmcv-$MMCV_VERSION-$pyver-torch$torchver-${flavour//;/_}"
mkdir -p "$WHEELHOUSE"

if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
    wheel=$(ls "$WHEELHOUSE"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        log "building mmcv $MMCV_VERSION with compiled ops (one-off, ~6-11 min on 2 cores) -> $WHEELHOUSE"
        MMCV_WITH_OPS=1 "$PY" -m pip wheel --disable-pip-version-check -q --no-deps \
            --no-build-isolation "mmcv==$MMCV_VERSION" -w "$WHEELHOUSE"
        wheel=$(ls "$WHEELHOUSE"/mmcv-"$MMCV_VERSION"-*.whl | head -n 1)
    else
        log "mmcv from wheelhouse: $wheel"
    fi
    "${PIP[@]}" --no-deps "$wheel"
fi

log "installing sbr and the rest of the stack"
"${PIP[@]}" -c constraints.txt -e ".[dev]"

log "checking compiled mmcv ops"
"$PY" - <<'PY'
import sys
import torch
try:
    from mmcv.ops import nms
except Exception as exc:  # noqa: BLE001
    sys.exit(f"mmcv was installed without its compiled ops ({exc}); delete the wheelhouse entry and re-run")
boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0]])
scores = torch.tensor([0.9, 0.8])
dets, keep = nms(boxes, scores, iou_threshold=0.5)
if keep.tolist() != [0]:
    sys.exit(f"mmcv.ops.nms gave {keep.tolist()}, expected [0]")
import mmdet, mmengine, mmcv
print(f"ok: torch {torch.__version__}, mmcv {mmcv.__version__} (ops), mmengine {mmengine.__version__}, mmdet {mmdet.__version__}")
PY
touch "$VENV/.sbr-setup-ok"
log "done in $((SECONDS - start)) s"
