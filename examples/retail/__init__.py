"""The bundled retail example: generated dataset, a sparse and a curated Genie space, an eval set."""
