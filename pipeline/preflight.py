"""What a command will need, checked before it changes anything (``rerun --force`` deletes first).

A rerun whose every answer is already stored needs no credentials and sends no request; one that
must ask a source needs what that source needs to be asked (credentials, a service that answers).
A source that reads another's findings is replayed only when the sources it reads need nothing new
(their new answers decide what it is asked). Either way the MSD partition must exist and the
warehouse must be reachable. Each check that fails is one ``TerminalError`` naming what is missing
and the fix; nothing has been removed at that point.
"""

from __future__ import annotations

from pipeline import config
from pipeline.errors import TerminalError
from pipeline.partitions import check_selection
from pipeline.sources import registry
from pipeline.warehouse.backends import redact, warehouse_backend


def _check_warehouse() -> None:
    backend = None
    try:
        backend = warehouse_backend()
        backend.query("SELECT 1")
    except TerminalError:
        raise  # an unknown scheme already names the setting and the fix
    except Exception as exc:  # psycopg2, DuckDB and network errors alike: the rerun could not load
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TerminalError(f"the warehouse at {redact(config.warehouse().url)} ([warehouse] url, environment "
                            f"MUSIC_ETL_WAREHOUSE_URL) does not answer: {reason}; nothing was removed") from None
    finally:
        if backend is not None:
            backend.close()


def check_rerun(partition: str) -> None:
    """Raise before anything is deleted when ``rerun --force partition`` cannot succeed."""
    check_selection(partition, config.msd().root)
    sources = registry.enabled()
    for source in sources:
        source.check_settings()
    _check_warehouse()
    must_ask: set[str] = set()
    for source in sources:
        asking_first = [r for r in source.requires if r in must_ask]
        needs = (f"{', '.join(registry.get(r).title for r in asking_first)} must be asked first" if asking_first
                 else source.needs(partition))
        if needs is not None:
            must_ask.add(source.name)
            source.check_can_ask(partition, needs)
