# The project in a container; neither image is built in CI (the project's machines have no Docker engine).
#
# CPU image (CPU-only torch wheels, no CUDA libraries):
#   docker build -t actionlib .
#   docker run --rm -v "$PWD/results:/app/results" actionlib                      # make reproduce, default profile
# GPU image (PyPI's torch wheels, which bring their CUDA libraries; needs the NVIDIA container toolkit):
#   docker build --build-arg TORCH_INDEX= -t actionlib:cuda .
#   docker run --rm --gpus all --shm-size 16g \
#     -v /path/to/data:/data -e ACTIONLIB_DATA=/data \
#     -v /path/to/weights:/weights -e ACTIONLIB_WEIGHTS=/weights \
#     -v "$PWD/runs:/app/runs" -v "$PWD/results:/app/results" \
#     actionlib:cuda make reproduce PROFILE=full
# (/data holds hmdb51/, ucf101/ and their _flow/_pose frame folders; /weights the public checkpoints: see the README.)
FROM python:3.11-slim
# The wheel index torch and torchvision come from; empty: the default index (CUDA builds).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN apt-get update && apt-get install -y --no-install-recommends make git ffmpeg \
    && rm -rf /var/lib/apt/lists/*
# One environment for the Makefile to use (make's VENV reads the environment).
ENV VENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
RUN if [ -n "$TORCH_INDEX" ]; then \
        pip install --no-cache-dir --index-url "$TORCH_INDEX" torch==2.14.1 torchvision==0.29.1; \
    fi
WORKDIR /app
COPY pyproject.toml README.md Makefile ./
COPY actionlib ./actionlib
RUN pip install --no-cache-dir -e ".[notebooks]"
COPY . .
# The image's environment is installed: tell the Makefile so (its stamp, newer than pyproject.toml).
RUN touch /opt/venv/.installed
CMD ["make", "reproduce"]
