# CPU image by default:      docker build -t actionlib .
# CUDA image:                docker build --build-arg BASE=pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime -t actionlib:cuda .
# Run the default profile:   docker run --rm -v "$PWD/results:/app/results" actionlib
# Full profile on GPUs:      docker run --gpus all -v /data:/data actionlib make reproduce PROFILE=full
# (Not built in CI: the project's machines have no Docker engine.)
ARG BASE=python:3.11-slim
FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends make git ffmpeg \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md Makefile ./
COPY actionlib ./actionlib
RUN python -m pip install --no-cache-dir -e ".[notebooks,dev]"
COPY . .
# The image's Python is the environment: tell the Makefile it is installed.
RUN touch /usr/local/.installed
CMD ["make", "reproduce", "VENV=/usr/local"]
