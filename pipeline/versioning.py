"""What a stage's output depends on, and the name that follows from it.

As gokart names an output by a hash of the parameters that change it, every staged partition
stage lives in ``<root>/<stage>/A/B/v-<digest>/``, the digest taken over the settings and code
versions that change that stage's output (and over its upstream stage's own digest). Change
``[spotify] match_threshold`` and enrichment has a new folder to fill, so it runs again; change
``[spotify] timeout`` (marked ``significant=False`` in pipeline/config.py) and nothing moves.
The manifest records the values it was produced with, so ``status`` can say which one changed.
"""

from __future__ import annotations

import hashlib

import luigi
import orjson

VERSION_PREFIX = "v-"


def significant_settings(section: luigi.Config) -> dict:
    """The values of a config section's parameters that change output (``significant=True``)."""
    return {name: getattr(section, name) for name, param in type(section).get_params() if param.significant}


def folder_name(settings: dict) -> str:
    """``v-<12 hex>``: the digest of the settings, whatever their order."""
    digest = hashlib.sha256(orjson.dumps(settings, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
    return f"{VERSION_PREFIX}{digest}"


def changed_settings(produced_with: dict, now: dict) -> list[str]:
    """``name old → new`` for each setting that differs, in name order."""
    names = sorted(set(produced_with) | set(now))
    return [f"{name} {produced_with.get(name)!r} → {now.get(name)!r}" for name in names
            if produced_with.get(name) != now.get(name)]
