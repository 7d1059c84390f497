"""The sources Music ETL enriches from. Every layer outside ``pipeline/sources/`` loops over this list.

One line per source: its name and the module that defines it (``SOURCE``, a ``pipeline.sources.base.Source``).
The order is the order of the pipeline: a source comes after the sources it reads, and each partition's
load id is taken over its stages' manifests in this order (so adding a source at the end keeps the
others' staging). Sources of other packages are added with ``[sources] plugins`` (module paths).
"""

from __future__ import annotations

import functools
import importlib

from pipeline import config
from pipeline.errors import TerminalError
from pipeline.sources.base import Source

BUILTIN = {
    "spotify": "pipeline.sources.spotify.source",
    "deezer": "pipeline.sources.deezer.source",
    "musicbrainz": "pipeline.sources.musicbrainz.source",
    "listenbrainz": "pipeline.sources.listenbrainz.source",
    "acousticbrainz": "pipeline.sources.acousticbrainz.source",
}


def _split(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


@functools.lru_cache(maxsize=8)
def _registered(plugins: str) -> tuple[Source, ...]:
    out: list[Source] = []
    for module in [*BUILTIN.values(), *_split(plugins)]:
        try:
            source = importlib.import_module(module).SOURCE
        except (ImportError, AttributeError) as exc:
            raise TerminalError(f"[sources] plugins (environment MUSIC_ETL_SOURCES_PLUGINS): `{module}` does not "
                                f"define a source ({type(exc).__name__}: {exc}); name a module with a SOURCE, "
                                f"see docs/ADDING_A_SOURCE.md") from None
        if any(s.name == source.name for s in out):
            raise TerminalError(f"[sources] plugins: `{module}` defines source `{source.name}`, a name already "
                                f"taken; give it another name")
        out.append(source)
    return tuple(out)


def registered() -> tuple[Source, ...]:
    """Every source this installation knows, built in and plugged in, in pipeline order."""
    return _registered(config.sources().plugins)


def get(name: str) -> Source:
    for source in registered():
        if source.name == name:
            return source
    raise TerminalError(f"no source `{name}`; the sources are {', '.join(s.name for s in registered())}")


def parse_enabled(value: str) -> tuple[Source, ...]:
    """``[sources] enabled`` as sources, each checked: known, and the sources it reads enabled too."""
    known = {s.name: s for s in registered()}
    if not value.strip():
        chosen = [s for s in known.values() if s.on_by_default]
    else:
        names = [n.lower() for n in _split(value)]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise TerminalError(f"[sources] enabled = `{value}` (environment MUSIC_ETL_SOURCES_ENABLED): unknown "
                                f"source {', '.join(unknown)}; the sources are {', '.join(known)}")
        chosen = [s for s in known.values() if s.name in names]  # pipeline order, whatever order they were given
    names = {s.name for s in chosen}
    for source in chosen:
        missing = [r for r in source.requires if r not in names]
        if missing:
            raise TerminalError(f"[sources] enabled = `{value}` (environment MUSIC_ETL_SOURCES_ENABLED): "
                                f"{source.name} reads what {', '.join(missing)} finds, so enable "
                                f"{', '.join(missing)} too, or leave {source.name} out")
    return tuple(chosen)


def enabled() -> tuple[Source, ...]:
    """The sources this run enriches from, in pipeline order."""
    return parse_enabled(config.sources().enabled)


def is_enabled(name: str) -> bool:
    return any(s.name == name for s in enabled())
