"""Data-asset search: the query language, the SQL it compiles to, and keyset pagination tokens.

The query language (docs/codeocean-api.md §7.2) has free words, ``"quoted phrases"`` and field terms ``name:``,
``tag:``, ``run_script:``, ``commit_id:``, ``contained_data_id:`` (a field term's value may be quoted).
The same field repeated is OR, different fields are AND, free words and phrases all AND together, and
everything is case-insensitive. Text matching is by whole words (an FTS5 ``unicode61`` index), so
``rna`` finds "RNA-seq pipeline" but not "internal"; a phrase or a hyphenated word must appear as
consecutive words. ``tag:`` matches a whole tag, ``commit_id:`` a commit hash or its prefix, and
``contained_data_id:`` a member id of a combined asset. A word in an unknown ``field:`` form is plain
free text, and terms without a letter or digit are dropped (they index to nothing).

Order (docs/codeocean-api.md §7.4): a query with free text and no ``sort_field`` comes in relevance
order. Relevance is a *tier*, from the best field a free word or phrase is found in: every free term in
the name, some in the name, then tags, then the description, then only custom metadata; within a tier,
newest first. A tier depends only on the asset and the query, never on the rest of the corpus (unlike
bm25), so pages stay exact while assets come and go. Each tier is one FTS5 expression; the store runs
them in turn and stops once the page is full, so a common word costs what an unranked search costs.
Without free text (or with a ``sort_field``) the order is the sort column, ``created`` by default.

Pages are keyset cursors: ``next_token`` carries the last row's sort key (with its tier, in relevance
order) and id, so rows created or deleted between pages never shift the rest (no skips, no repeats of
rows that survive). A token is bound, with an HMAC, to the caller and to every parameter that decides
the result set and its order; using it with a different query is a 400, and ``limit`` may change
between pages.
"""

# SQL here is assembled from fixed fragments and "?" placeholders; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from co_mcp.sandbox.bodies import FilterBody, SearchBody
    from co_mcp.sandbox.records import AssetRecord, UserRecord

__all__ = [
    "DEFAULT_LIMIT",
    "FIELDS",
    "InvalidSearch",
    "Plan",
    "Term",
    "name_key",
    "parse_query",
    "plan_search",
    "reported_size",
    "size_key",
    "visibility",
]

DEFAULT_LIMIT = 100
FIELDS = ("name", "tag", "run_script", "commit_id", "contained_data_id")
# Filter keys that are asset properties rather than custom metadata.
_BUILTIN_FILTER_KEYS = ("name", "description", "tags")
# Free text looks in these FTS columns: the documented "weighted fields", heaviest first.
_FREE_TEXT_COLUMNS = "{name tags description meta}"
_SORT_COLUMNS = {"created": "a.created", "type": "a.type", "name": "a.name_key", "size": "a.size_key"}
# Relevance order sorts by tier, then as the default order does: newest first.
RELEVANCE = "relevance"
_FIELD_PREFIX = re.compile(r"(" + "|".join(FIELDS) + r"):", re.IGNORECASE)
_TOKEN_VERSION = 1


class InvalidSearch(ValueError):
    """A search the API rejects with 400; ``str()`` names the offending field."""


@dataclass(frozen=True)
class Term:
    """One query term: a free word or phrase (``field`` None) or a ``field:value`` term."""

    field: str | None
    text: str


def parse_query(query: str) -> list[Term]:
    """Split a search expression into terms; see the module docstring for the grammar."""
    terms: list[Term] = []
    i, end = 0, len(query)
    while i < end:
        if query[i].isspace():
            i += 1
            continue
        field = None
        prefix = _FIELD_PREFIX.match(query, i)
        if prefix:
            field = prefix.group(1).lower()
            i = prefix.end()
            # "name: foo" reads as name:foo, as in most search boxes; "name: tag:x" is an empty name term.
            while i < end and query[i].isspace():
                i += 1
            if _FIELD_PREFIX.match(query, i):
                continue
        if i < end and query[i] == '"':
            close = query.find('"', i + 1)
            close = end if close < 0 else close
            text, i = query[i + 1 : close], close + 1
        else:
            start = i
            while i < end and not query[i].isspace():
                i += 1
            text = query[start:i]
        text = text.strip()
        if any(ch.isalnum() for ch in text):
            terms.append(Term(field, text))
    return terms


def name_key(name: str) -> str:
    """The stored sort key for ``name``: case-insensitive order."""
    return name.casefold()


def size_key(size: int | None) -> int:
    """The stored sort key for ``size``: assets of unknown size sort below empty ones."""
    return -1 if size is None else size


def reported_size(record: AssetRecord) -> int | None:
    """The size the API reports: none for a draft, whose copy is still running (docs/codeocean-api.md §5.3)."""
    return None if record.state == "draft" else record.size


def visibility(user: UserRecord) -> tuple[str, list[Any]]:
    """SQL over ``assets a`` for "the caller may see this asset", and its parameters."""
    if user.admin:
        return "1", []
    principals = _principals(user)
    marks = ",".join("?" * len(principals))
    shared = f"a.pk IN (SELECT asset_pk FROM shares WHERE principal IN ({marks}))"
    return f"(a.owner_id = ? OR a.everyone != 'none' OR {shared})", [user.id, *principals]


def _principals(user: UserRecord) -> list[str]:
    # Matches how store.py writes the shares table: "u:<email, lower-cased>" and "g:<group>".
    return [f"u:{user.email.lower()}", *(f"g:{group}" for group in user.groups)]


def _phrase(text: str) -> str:
    # Inside double quotes FTS5 treats everything as text to tokenize: no operator injection. A NUL
    # would end the expression early (FTS5 reads it as a C string), and is never part of a word; the
    # unit separator is the store's break between two values of a field, which no query may contain.
    return '"' + text.replace("\0", " ").replace("\x1f", " ").replace('"', '""') + '"'


def _fts(columns: str, texts: list[str]) -> str:
    return "(" + " OR ".join(f"{columns} : {_phrase(text)}" for text in texts) + ")"


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


_FTS_MEMBER = "a.pk IN (SELECT rowid FROM assets_fts WHERE assets_fts MATCH ?)"


@dataclass(frozen=True)
class Plan:
    """A compiled search: WHERE clause over ``assets a``, order, page bounds and cursor position.

    ``where`` holds every condition but the word index; ``match`` is the FTS5 expression rows must
    match (None: no text terms). In relevance order (``sort_field`` ``"relevance"``), ``tiers`` are
    FTS5 expressions that split the matches into relevance tiers, best first, and ``after`` is
    ``([tier, created], id)``; otherwise ``after`` is ``(sort value, id)``.
    """

    where: str
    params: tuple[Any, ...]
    sort_field: str
    descending: bool
    limit: int
    offset: int
    after: tuple[Any, str] | None
    fingerprint: str
    secret: bytes
    match: str | None = None
    tiers: tuple[str, ...] = ()

    @property
    def sort_column(self) -> str:
        return _SORT_COLUMNS["created" if self.sort_field == RELEVANCE else self.sort_field]

    def sql(self, columns: str) -> tuple[str, tuple[Any, ...]]:
        """The SELECT for one page, fetching one row more than ``limit`` to learn ``has_more``.

        Not for relevance order, whose page the store assembles tier by tier with ``tier_sql``.
        """
        direction = "DESC" if self.descending else "ASC"
        where, params = self.where, list(self.params)
        if self.match is not None:
            where += f" AND {_FTS_MEMBER}"
            params.append(self.match)
        if self.after is not None:
            where += f" AND ({self.sort_column}, a.id) {'<' if self.descending else '>'} (?, ?)"
            params += list(self.after)
        sql = (
            f"SELECT {columns} FROM assets a WHERE {where} "
            f"ORDER BY {self.sort_column} {direction}, a.id {direction} LIMIT ? OFFSET ?"
        )
        return sql, (*params, self.limit + 1, self.offset)

    def tier_sql(
        self,
        columns: str,
        tier: int,
        *,
        after: tuple[int, str] | None,
        limit: int,
        offset: int,
        from_matches: bool,
    ) -> tuple[str, tuple[Any, ...]]:
        """The SELECT for up to ``limit`` rows of one relevance tier, newest first, after ``(created, id)``.

        ``from_matches`` reads the tier's few matches and sorts them; otherwise SQLite walks the
        ``created`` index and stops after ``limit`` rows, which is quicker when matches are many.
        """
        where, params = self.where, list(self.params)
        if after is not None:
            where += " AND (a.created, a.id) < (?, ?)"
            params += list(after)
        order = "ORDER BY a.created DESC, a.id DESC LIMIT ? OFFSET ?"
        if from_matches:
            # CROSS JOIN keeps the word index as the outer loop: SQLite would otherwise walk the index.
            sql = (
                f"SELECT {columns} FROM (SELECT rowid AS pk FROM assets_fts WHERE assets_fts MATCH ?) m "
                f"CROSS JOIN assets a WHERE a.pk = m.pk AND {where} {order}"
            )
            return sql, (self.tiers[tier], *params, limit, offset)
        sql = f"SELECT {columns} FROM assets a WHERE {where} AND {_FTS_MEMBER} {order}"
        return sql, (*params, self.tiers[tier], limit, offset)

    def tier_count_sql(self, tier: int) -> tuple[str, tuple[Any, ...]]:
        """How many rows one relevance tier holds, to skip whole tiers for an ``offset``."""
        sql = f"SELECT count(*) FROM assets a WHERE {self.where} AND {_FTS_MEMBER}"
        return sql, (*self.params, self.tiers[tier])

    def token_after(self, record: AssetRecord, tier: int | None = None) -> str:
        """The opaque ``next_token`` that continues after ``record`` (in relevance order: of ``tier``)."""
        if self.sort_field == RELEVANCE:
            if tier is None:
                raise ValueError("a token in relevance order needs the tier of the last row")
            value: Any = [tier, record.created]
        else:
            value = _sort_value(record, self.sort_field)
        payload = json.dumps([_TOKEN_VERSION, self.fingerprint, value, record.id], separators=(",", ":")).encode()
        return _b64(payload) + "." + _b64(_sign(self.secret, payload))


def _sort_value(record: AssetRecord, sort_field: str) -> Any:
    if sort_field == "created":
        return record.created
    if sort_field == "type":
        return record.type
    if sort_field == "name":
        return name_key(record.name)
    return size_key(reported_size(record))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.digest(secret, b"next_token\0" + payload, "sha256")[:12]


def _decode_token(token: str, secret: bytes, fingerprint: str, sort_field: str) -> tuple[Any, str]:
    invalid = InvalidSearch("next_token: is not a token this server issued")
    try:
        body, _, signature = token.partition(".")
        payload = _unb64(body)
        if not hmac.compare_digest(_unb64(signature), _sign(secret, payload)):
            raise invalid
        version, bound_to, value, last_id = json.loads(payload)
    except (ValueError, binascii.Error, TypeError):
        raise invalid from None
    if version != _TOKEN_VERSION or not isinstance(last_id, str):
        raise invalid
    if bound_to != fingerprint:
        raise InvalidSearch("next_token: belongs to a different search; repeat the query with the same parameters")
    if sort_field == RELEVANCE:
        if not (isinstance(value, list) and len(value) == 2 and all(_is_int(v) for v in value)):
            raise invalid
        return (value[0], value[1]), last_id
    expected_type = int if sort_field in ("created", "size") else str
    if not isinstance(value, expected_type) or isinstance(value, bool):
        raise invalid
    return value, last_id


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def plan_search(body: SearchBody, user: UserRecord, metadata_fields: Mapping[str, str], *, secret: bytes) -> Plan:
    """Compile a validated search body for ``user``; ``metadata_fields`` maps custom key -> field type.

    Raises ``InvalidSearch`` for what the body model cannot check alone: unknown filter keys, filters
    of the wrong shape for their field, and foreign or forged ``next_token`` values.
    """
    where: list[str] = []
    params: list[Any] = []

    def add(sql: str, *values: Any) -> None:
        where.append(sql)
        params.extend(values)

    seen_sql, seen_params = visibility(user)
    add(seen_sql, *seen_params)
    add("a.archived = ?", 1 if body.archived else 0)
    if body.type is not None:
        add("a.type = ?", body.type)
    if body.origin is not None:
        add("a.external = ?", 1 if body.origin == "external" else 0)
    if body.favorite:
        add("a.pk IN (SELECT asset_pk FROM favorites WHERE user_id = ?)", user.id)
    if body.ownership == "created":
        add("a.owner_id = ?", user.id)
    elif body.ownership == "shared":
        principals = _principals(user)
        marks = ",".join("?" * len(principals))
        add(
            f"a.owner_id != ? AND a.pk IN (SELECT asset_pk FROM shares WHERE principal IN ({marks}))",
            user.id,
            *principals,
        )
    elif body.ownership == "private":
        add(
            "a.owner_id = ? AND a.everyone = 'none' AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.asset_pk = a.pk)",
            user.id,
        )
    terms = parse_query(body.query or "")
    match = _add_query(terms, add)
    for index, search_filter in enumerate(body.filters or []):
        _add_filter(index, search_filter, metadata_fields, add)

    free = [term.text for term in terms if term.field is None]
    tiers: tuple[str, ...] = ()
    sort_field: str
    if body.sort_field is not None:
        sort_field, descending = body.sort_field, body.sort_order != "asc"
    elif free and match is not None:
        # Free text and no sort_field: relevance order (sort_order is ignored, as without a query).
        sort_field, descending, tiers = RELEVANCE, True, relevance_tiers(match, free)
    else:
        # docs/codeocean-api.md §7.1: sort_order "must be provided with sort_field, otherwise ignored".
        sort_field, descending = "created", True
    limit = DEFAULT_LIMIT if body.limit is None else body.limit
    fingerprint = _fingerprint(body, user, sort_field, descending)
    after = None
    offset = body.offset if body.offset is not None else (body.from_ or 0)
    # An empty token is no token: some clients send "" rather than null on the first page.
    if body.next_token:
        after = _decode_token(body.next_token, secret, fingerprint, sort_field)
        offset = 0  # docs/codeocean-api.md §7.7: with next_token, offset (and from) are ignored
    return Plan(
        " AND ".join(where),
        tuple(params),
        sort_field,
        descending,
        limit,
        offset,
        after,
        fingerprint,
        secret,
        match=match,
        tiers=tiers,
    )


def relevance_tiers(match: str, free: list[str]) -> tuple[str, ...]:
    """FTS5 expressions splitting the rows that ``match`` into relevance tiers, best first.

    A row falls in the first tier whose field holds a free term: every term in the name (only when
    there are several), some term in the name, tags, description, and last custom metadata (a row
    that matches with no term in the first three fields holds them all there). The tiers partition
    the matches: each later one excludes the fields of the earlier ones.
    """

    def some(columns: str) -> str:
        return f"({{{columns}}} : ({' OR '.join(_phrase(text) for text in free)}))"

    every_in_name = f"({{name}} : ({' AND '.join(_phrase(text) for text in free)}))"
    if len(free) == 1 and match == _fts(_FREE_TEXT_COLUMNS, free):
        # One free term and nothing else: a hit in a field is a match, so the tiers need not repeat
        # the match (FTS5 then reads two phrase lists per tier instead of three).
        return (
            some("name"),
            f"{some('tags')} NOT {some('name')}",
            f"{some('description')} NOT {some('name tags')}",
            f"{some('meta')} NOT {some('name tags description')}",
        )
    base = f"({match})"
    tiers = []
    if len(free) > 1:
        tiers += [f"{base} AND {every_in_name}", f"({base} AND {some('name')}) NOT {every_in_name}"]
    else:
        tiers.append(f"{base} AND {some('name')}")
    tiers.append(f"({base} AND {some('tags')}) NOT {some('name')}")
    tiers.append(f"({base} AND {some('description')}) NOT {some('name tags')}")
    tiers.append(f"{base} NOT {some('name tags description')}")
    return tuple(tiers)


def _add_query(terms: list[Term], add: Any) -> str | None:
    """Add the query's conditions outside the word index; return the FTS5 expression (None if none)."""
    fts: list[str] = []
    by_field: dict[str, list[str]] = {}
    for term in terms:
        if term.field is None:
            fts.append(_fts(_FREE_TEXT_COLUMNS, [term.text]))
        else:
            by_field.setdefault(term.field, []).append(term.text)
    for field, texts in by_field.items():
        if field == "name":
            fts.append(_fts("{name}", texts))
        elif field == "run_script":
            fts.append(_fts("{run_script}", texts))
        elif field == "tag":
            lowered = [text.lower() for text in texts]
            add(f"a.pk IN (SELECT asset_pk FROM asset_tags WHERE tag IN ({','.join('?' * len(lowered))}))", *lowered)
        elif field == "commit_id":
            clauses = " OR ".join("substr(a.commit_id, 1, ?) = ?" for _ in texts)
            values = [v for text in texts for v in (len(text), text.lower())]
            add(f"({clauses})", *values)
        else:  # contained_data_id
            lowered = [text.lower() for text in texts]
            marks = ",".join("?" * len(lowered))
            add(f"a.pk IN (SELECT asset_pk FROM contained WHERE member_id IN ({marks}))", *lowered)
    return " AND ".join(fts) if fts else None


def _add_filter(index: int, search_filter: FilterBody, metadata_fields: Mapping[str, str], add: Any) -> None:
    where = f"filters[{index}]"
    key = search_filter.key
    if key not in _BUILTIN_FILTER_KEYS and key not in metadata_fields:
        known = ", ".join([*_BUILTIN_FILTER_KEYS, *metadata_fields])
        raise InvalidSearch(f"{where}.key: unknown key {key!r}; use one of {known}")
    given = [name for name in ("value", "values", "range") if getattr(search_filter, name) is not None]
    if len(given) != 1:
        raise InvalidSearch(f"{where}: set exactly one of value, values or range")
    kind = metadata_fields.get(key, "string")
    negate = "NOT " if search_filter.exclude else ""

    if search_filter.range is not None:
        if kind not in ("number", "date"):
            raise InvalidSearch(f"{where}.range: {key!r} is not a number or date field")
        low, high = search_filter.range.min, search_filter.range.max
        if low is None and high is None:
            raise InvalidSearch(f"{where}.range: set min, max or both")
        if low is not None and high is not None and low > high:
            raise InvalidSearch(f"{where}.range: min is greater than max")
        bounds = [("num_value >= ?", low), ("num_value <= ?", high)]
        conditions = " AND ".join(sql for sql, bound in bounds if bound is not None)
        values = [bound for _, bound in bounds if bound is not None]
        add(f"a.pk {negate}IN (SELECT asset_pk FROM asset_meta WHERE key = ? AND {conditions})", key, *values)
        return

    wanted: list[Any] = [search_filter.value] if search_filter.value is not None else list(search_filter.values)
    if not wanted:
        raise InvalidSearch(f"{where}.values: must not be empty")
    if kind in ("number", "date"):
        if any(isinstance(item, str) for item in wanted):
            raise InvalidSearch(f"{where}.{given[0]}: {key!r} is a {kind} field; give numbers")
        marks = ",".join("?" * len(wanted))
        # Stored as REAL; as floats, even integers past SQLite's 64-bit range can be bound.
        numbers = [float(item) for item in wanted]
        add(
            f"a.pk {negate}IN (SELECT asset_pk FROM asset_meta WHERE key = ? AND num_value IN ({marks}))", key, *numbers
        )
        return
    texts = [item if isinstance(item, str) else _number_text(item) for item in wanted]
    if key in ("name", "description"):
        # Like the name: query term: the words must appear, in order, anywhere in the field.
        expression = _fts("{" + key + "}", texts)
        add(f"a.pk {negate}IN (SELECT rowid FROM assets_fts WHERE assets_fts MATCH ?)", expression)
        return
    lowered = [text.lower() for text in texts]
    marks = ",".join("?" * len(lowered))
    if key == "tags":
        add(f"a.pk {negate}IN (SELECT asset_pk FROM asset_tags WHERE tag IN ({marks}))", *lowered)
    else:
        add(
            f"a.pk {negate}IN (SELECT asset_pk FROM asset_meta WHERE key = ? AND text_value IN ({marks}))",
            key,
            *lowered,
        )


def _fingerprint(body: SearchBody, user: UserRecord, sort_field: str, descending: bool) -> str:
    # Everything that decides which rows match and their order; not limit, offset or the token.
    shape = {
        "user": user.id,
        "query": body.query or "",
        "sort": [sort_field, descending],
        "type": body.type,
        "ownership": body.ownership,
        "origin": body.origin,
        "favorite": bool(body.favorite),
        "archived": bool(body.archived),
        "filters": [f.model_dump(mode="json") for f in body.filters or []],
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]
