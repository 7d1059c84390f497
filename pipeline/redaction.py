"""Secrets out of what the pipeline prints or writes: URLs and the error messages that quote them.

A database URL can carry a password in three ways, and each is masked as ``***`` wherever a URL is
shown (status, the run summary, dry runs, the report, exports, error lines):

* userinfo: ``postgresql://etl:PASSWORD@host/db``;
* a query parameter libpq reads: ``?password=``, ``?sslpassword=``, and any parameter whose name says
  secret (``pass``, ``pwd``, ``secret``, ``token``, ``key``, ``credential``, ``auth``, ``signature``:
  ``aws_secret_access_key``, ``api_token``, S3's ``X-Amz-Signature``, …);
* a libpq key=value string: ``host=db password=PASSWORD`` (the pipeline does not accept one as
  ``[warehouse] url``, but the error saying so quotes it).

``PGPASSWORD`` and ``~/.pgpass`` are never part of the URL, and nothing prints the environment.

``redact_url`` masks one URL; ``redact_text`` masks a message (a library's exception text) that may
quote a URL, or only the password from one, taken from the URLs given.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"

# A parameter whose name holds one of these is a secret: over-masking a harmless value (sslkey's path)
# costs nothing, showing a password costs a lot.
_SECRET_NAME = re.compile(r"pass|pwd|secret|token|key|credential|auth|signature|^sig$", re.IGNORECASE)

# One query parameter: its name and value, separated by ``=``, between ``&`` or ``;``.
_QUERY_PARAM = re.compile(r"(?P<name>[^=&;#]+)=(?P<value>[^&;#]*)")

# One key=value pair of a libpq connection string; the value plain or single-quoted (with \' inside).
_KEYWORD_PAIR = re.compile(r"(?P<name>\b[A-Za-z_][\w.-]*)(?P<eq>\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|[^\s'&;]+)")

# A URL inside a longer text: a scheme, ``://``, then anything up to white space or a quote.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"`<>]+")

# Shorter secrets are not searched for in free text: masking every "ab" would garble the message while
# hiding nothing anyone could not guess.
_MIN_SECRET_LEN = 3


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(unquote(name).strip()))


def _mask_query(query: str) -> str:
    def one(match: re.Match) -> str:
        if is_secret_name(match["name"]) and match["value"]:
            return f"{match['name']}={MASK}"
        return match.group(0)
    return _QUERY_PARAM.sub(one, query)


def _mask_keywords(text: str) -> str:
    def one(match: re.Match) -> str:
        if is_secret_name(match["name"]):
            return f"{match['name']}{match['eq']}{MASK}"
        return match.group(0)
    return _KEYWORD_PAIR.sub(one, text)


def _split(url: str) -> tuple[str, str, str, str] | None:
    """``scheme://``, the userinfo (``user:password``, or ""), ``@host:port``, and the rest (path, query,
    fragment) as written: cut by hand, so that putting them back gives the URL unchanged (urlunsplit
    writes ``duckdb:///x`` as ``duckdb:/x``). The userinfo runs to the last ``@`` before the query, so
    a password with an unescaped ``/`` or ``@`` in it is still all of it."""
    match = re.match(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<head>[^?#]*)(?P<tail>.*)\Z", url, re.DOTALL)
    if not match:
        return None
    userinfo, at, after = match["head"].rpartition("@")
    if not at or "/" in userinfo.partition(":")[0]:  # no userinfo, or an @ in the path
        userinfo, at, after = "", "", match["head"]
    return match["scheme"], userinfo, at + after, match["tail"]


def redact_url(url: str) -> str:
    """``url`` without any password or secret it carries (userinfo, secret-named query parameters,
    key=value pairs); everything else as written, so the URL still says where it points."""
    if not url:
        return url
    parts = _split(url)
    if parts is None:  # a libpq key=value string, or a path: mask its secret-named pairs
        return _mask_keywords(_mask_query(url) if "?" in url else url)
    scheme, userinfo, hostport, rest = parts
    user, colon, password = userinfo.partition(":")
    if colon and password:
        userinfo = f"{user}:{MASK}"
    return f"{scheme}{userinfo}{hostport}{_mask_query(rest)}"


def secrets_in(url: str) -> list[str]:
    """The secret values ``url`` carries, as written and decoded, longest first (to mask in free text)."""
    found: set[str] = set()
    parts = _split(url)
    if parts is not None:
        userinfo, rest = parts[1], parts[3]
        if ":" in userinfo:
            found.add(userinfo.partition(":")[2])
    else:
        rest = url
    found.update(m["value"] for m in _QUERY_PARAM.finditer(rest) if is_secret_name(m["name"]))
    found.update(m["value"].strip("'") for m in _KEYWORD_PAIR.finditer(url) if is_secret_name(m["name"]))
    found |= {unquote(s) for s in found}
    return sorted((s for s in found if len(s) >= _MIN_SECRET_LEN), key=len, reverse=True)


def redact_text(text: str, *urls: str) -> str:
    """``text`` (an exception's message, a log line) with every URL in it redacted, secret-named
    key=value pairs masked, and every secret of ``urls`` (the configured URLs it may quote in part)
    replaced by ``***``."""
    for url in urls:
        if url:
            text = text.replace(url, redact_url(url))
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    text = _mask_keywords(text)
    for url in urls:
        for secret in secrets_in(url or ""):
            text = text.replace(secret, MASK)
    return text
