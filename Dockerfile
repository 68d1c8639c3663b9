# jsontune on a GPU: the pinned stack of constraints.txt with torch's CUDA build of the same version.
#   docker build -t jsontune:gpu .
#   docker run --gpus all --rm -v "$PWD":/workspace -v jsontune-hf:/cache/huggingface -v jsontune-dvc:/cache/dvc jsontune:gpu
# The checkout is mounted over /workspace, so dvc.lock, metrics/ and runs/ land in it (README "GPU / Docker").
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# torch's wheel index flavour; its CUDA major version must match the base image's.
ARG TORCH_CUDA=cu128
ARG DEBIAN_FRONTEND=noninteractive
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Versions come from the base image's Ubuntu snapshot (its tag is pinned); the Ubuntu archive drops
# superseded package versions, so exact apt pins would break rebuilds.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv make git ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'

# The image's Python environment: created once here, owned by root, first on PATH. `make train` uses it
# as is (JSONTUNE_SYSTEM_PYTHON=1) and never creates a venv in the mounted checkout.
ENV VIRTUAL_ENV=/opt/jsontune \
    PATH=/opt/jsontune/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    JSONTUNE_SYSTEM_PYTHON=1
RUN python3 -m venv /opt/jsontune

WORKDIR /workspace
COPY constraints.txt pyproject.toml ./
# One source of truth: torch's CUDA wheel at the version constraints.txt pins (torch==X matches X+cuNNN),
# then everything else from the same constraints.
RUN pip install --no-cache-dir -c constraints.txt pip==26.3 \
    && pip install --no-cache-dir -c constraints.txt \
        --index-url "https://download.pytorch.org/whl/${TORCH_CUDA}" --extra-index-url https://pypi.org/simple torch
COPY . .
# The `constrained` extra (xgrammar) keeps its triton requirement here: torch's CUDA wheel brings triton.
RUN pip install --no-cache-dir -c constraints.txt -e ".[dev,s3,constrained]"

# Caches live in volumes: model downloads (HF_HOME) and the DVC cache (set in DVC's system config).
ENV HF_HOME=/cache/huggingface \
    DVC_SYSTEM_CONFIG_DIR=/etc/jsontune/dvc \
    DVC_NO_ANALYTICS=1 \
    HOME=/home/jsontune
RUN if id ubuntu >/dev/null 2>&1; then userdel --remove ubuntu; fi \
    && useradd --create-home --uid 1000 --shell /bin/bash jsontune \
    && mkdir -p /etc/jsontune/dvc /cache/huggingface /cache/dvc \
    && printf '[core]\n    analytics = false\n    check_update = false\n[cache]\n    dir = /cache/dvc\n' \
        > /etc/jsontune/dvc/config \
    && chown -R jsontune:jsontune /cache /workspace \
    && chmod 1777 /cache/huggingface /cache/dvc /home/jsontune
VOLUME ["/cache/huggingface", "/cache/dvc"]

USER 1000:1000
CMD ["make", "train"]
