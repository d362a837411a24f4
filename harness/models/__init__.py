"""Models behind a few methods: loading any model the harness knows (a directory, a hub id, GGUF, the built-in
`tiny`, the named zoo), batched greedy generation with stop strings, the batch size that fits, and the token
views that explain an output."""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "loading": ["Model", "TINY", "check_loadable", "device", "is_adapter_dir", "load_model", "resolve_model_path"],
    "generate": ["cut_at_stop", "length_order"],
    "explain": ["explain"],
})
