"""cleaner: one canonical, clean copy of each scraped article, with provenance.

>>> from cleaner import clean_texts
>>> res = clean_texts([{"id": "r1", "text": "讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。"}])
>>> res.articles[0].text
'同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。'
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Public names, imported on first use so that `import cleaner.decode` (or the
# CLI's --help) does not pay for OpenCC, ftfy and friends up front.
_EXPORTS = {
    "CleanConfig": "config",
    "load_config": "config",
    "Cleaner": "pipeline",
    "CleanResult": "pipeline",
    "clean_files": "pipeline",
    "clean_texts": "pipeline",
    "cluster_texts": "cluster",
    "CanonicalArticle": "types",
    "Paragraph": "types",
    "Removal": "types",
    "Source": "types",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cleaner' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
