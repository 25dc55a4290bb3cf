"""A wide-column table the way Cassandra stores one, in plain Python, with its costs counted.

Cassandra (and ScyllaDB, and Bigtable/HBase in their own words) keep a table as
**partitions**: every row's *partition key* is hashed to a token, the token decides
which node holds the row, and inside a partition the rows are kept sorted by the
*clustering columns*. The primary key is ``(partition key, clustering columns)``::

    CREATE TABLE readings (
        sensor_id int, day text, ts int, celsius float,
        PRIMARY KEY ((sensor_id, day), ts)        -- partition key, then clustering
    ) WITH CLUSTERING ORDER BY (ts DESC);

The same table here, in memory (no server to install)::

    from helpers.widecolumn import WideTable
    readings = WideTable("readings", partition_key=["sensor_id", "day"],
                         clustering=[("ts", "desc")], nodes=3)
    readings.insert({"sensor_id": 7, "day": "2026-03-01", "ts": 3600, "celsius": 21.5})
    got = readings.select({"sensor_id": 7, "day": "2026-03-01"}, limit=10)
    got.rows, got.partitions_read, got.rows_read, got.nodes_contacted

Like CQL, :meth:`WideTable.select` only answers what the key can answer cheaply: every
partition-key column by equality (one partition, one node), then clustering columns by
equality in key order, with a range allowed on the last one given (a contiguous slice
of the sorted partition). Anything else (no partition key, a filter on an ordinary
column, a clustering column skipped) raises :class:`InvalidQuery`, unless the caller
says ``allow_filtering=True``: then it reads **every partition on every node** and
filters in memory, and the counters on the returned :class:`Read` show the bill.
Writes are upserts, as in Cassandra: a second row with the same primary key replaces
the first (there is no "duplicate key" error, so a key that is not unique loses data
silently).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["InvalidQuery", "Read", "WideTable"]

_RANGE_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class InvalidQuery(ValueError):
    """A query the table cannot answer from its key (CQL's InvalidRequest), with the reason."""


@functools.total_ordering
class _Desc:
    """Wraps a value so that sorting puts bigger values first (a DESC clustering column)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __lt__(self, other: _Desc) -> bool:
        return other.value < self.value

    def __hash__(self) -> int:
        return hash(self.value)


def _descending(value: Any) -> Any:
    """A sort key that puts bigger values first: a negated number, else a :class:`_Desc`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return -value  # fast: compared in C
    return _Desc(value)


@dataclass
class Read:
    """What one :meth:`WideTable.select` returned and what it cost.

    ``partitions_read`` counts the partitions looked into (a lookup by partition key
    counts 1 even when the partition is empty); ``rows_read`` the rows taken out of
    them before any filter; ``nodes_contacted`` the nodes that had to answer.
    """

    rows: list[dict[str, Any]]
    partitions_read: int
    rows_read: int
    nodes_contacted: int
    filtered: bool = False  # True when allow_filtering was needed (a full scan)

    def __repr__(self) -> str:
        def n(count: int, noun: str) -> str:
            return f"{count:,} {noun}{'' if count == 1 else 's'}"

        return (f"Read({n(len(self.rows), 'row')}; read {n(self.rows_read, 'row')} in "
                f"{n(self.partitions_read, 'partition')} on {n(self.nodes_contacted, 'node')}"
                f"{'; full scan' if self.filtered else ''})")


@dataclass
class _Partition:
    keys: list[tuple] = field(default_factory=list)  # sortable clustering keys, in clustering order
    rows: list[dict[str, Any]] = field(default_factory=list)


class WideTable:
    """A Cassandra-style table: rows grouped by partition key, sorted by clustering columns.

    ``partition_key`` names one or more columns (a composite partition key, like
    ``((sensor_id, day))`` in CQL); ``clustering`` is a list of column names or
    ``(name, "asc" | "desc")`` pairs, in order. ``nodes`` is the size of the pretend
    cluster the partitions are spread over (by a hash of the partition key).
    """

    def __init__(self, name: str, partition_key: Sequence[str],
                 clustering: Sequence[str | tuple[str, str]] = (), nodes: int = 3) -> None:
        if isinstance(partition_key, str):
            partition_key = [partition_key]
        if not partition_key:
            raise ValueError("a table needs at least one partition-key column")
        self.name = name
        self.partition_key: tuple[str, ...] = tuple(partition_key)
        columns, orders = [], []
        for item in clustering:
            column, order = (item, "asc") if isinstance(item, str) else item
            if order not in ("asc", "desc"):
                raise ValueError(f"clustering order of {column!r} must be 'asc' or 'desc', got {order!r}")
            columns.append(column)
            orders.append(order)
        self.clustering: tuple[str, ...] = tuple(columns)
        self.clustering_order: tuple[str, ...] = tuple(orders)
        key_columns = self.partition_key + self.clustering
        if len(set(key_columns)) != len(key_columns):
            raise ValueError(f"a column appears twice in the primary key {key_columns}")
        if nodes < 1:
            raise ValueError("a cluster has at least one node")
        self.nodes = nodes
        self._partitions: dict[tuple, _Partition] = {}

    # -- the key -------------------------------------------------------------------
    @property
    def primary_key(self) -> tuple[str, ...]:
        """Partition-key columns, then clustering columns: what makes a row unique."""
        return self.partition_key + self.clustering

    def describe(self) -> str:
        """The table as CQL would declare it."""
        pk = ", ".join(self.partition_key)
        pk = f"({pk})" if len(self.partition_key) > 1 else pk
        key = ", ".join([pk, *self.clustering])
        text = f"PRIMARY KEY ({key})"
        if self.clustering:
            pairs = zip(self.clustering, self.clustering_order, strict=True)
            order = ", ".join(f"{c} {o.upper()}" for c, o in pairs)
            text += f" WITH CLUSTERING ORDER BY ({order})"
        return f"{self.name}: {text}"

    def node_of(self, partition: tuple) -> int:
        """The node holding ``partition``: a stable hash of the key, like Cassandra's token ring."""
        digest = hashlib.blake2b(repr(partition).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.nodes

    def _sort_key(self, row: Mapping[str, Any]) -> tuple:
        return tuple(_descending(row[c]) if o == "desc" else row[c]
                     for c, o in zip(self.clustering, self.clustering_order, strict=True))

    # -- writes --------------------------------------------------------------------
    def insert(self, row: Mapping[str, Any]) -> None:
        """Write one row; a row with the same primary key is replaced (an upsert)."""
        missing = [c for c in self.primary_key if row.get(c) is None]
        if missing:
            raise InvalidQuery(f"{self.name}: every primary-key column needs a value; missing {missing}")
        partition = self._partitions.setdefault(tuple(row[c] for c in self.partition_key), _Partition())
        sort_key = self._sort_key(row)
        at = bisect.bisect_left(partition.keys, sort_key)
        if at < len(partition.keys) and partition.keys[at] == sort_key:
            partition.rows[at] = dict(row)  # same primary key: the new row wins, silently
        else:
            partition.keys.insert(at, sort_key)
            partition.rows.insert(at, dict(row))

    def insert_many(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """:meth:`insert` each row (in one sort per partition: same result, faster for many rows)."""
        batches: dict[tuple, dict[tuple, dict[str, Any]]] = {}
        for row in rows:
            missing = [c for c in self.primary_key if row.get(c) is None]
            if missing:
                raise InvalidQuery(f"{self.name}: every primary-key column needs a value; missing {missing}")
            key = tuple(row[c] for c in self.partition_key)
            batches.setdefault(key, {})[tuple(row[c] for c in self.clustering)] = dict(row)  # last one wins
        for key, batch in batches.items():
            partition = self._partitions.setdefault(key, _Partition())
            merged = {tuple(r[c] for c in self.clustering): r for r in partition.rows}
            merged.update(batch)
            ordered = sorted(((self._sort_key(r), r) for r in merged.values()), key=operator.itemgetter(0))
            partition.keys = [k for k, _ in ordered]
            partition.rows = [r for _, r in ordered]

    # -- sizes ---------------------------------------------------------------------
    def partition_count(self) -> int:
        """How many partitions hold at least one row."""
        return len(self._partitions)

    def row_count(self) -> int:
        """How many rows the table holds."""
        return sum(len(p.rows) for p in self._partitions.values())

    def partition_sizes(self) -> dict[tuple, int]:
        """Rows per partition (to spot a hot or oversized partition)."""
        return {key: len(p.rows) for key, p in self._partitions.items()}

    # -- reads ---------------------------------------------------------------------
    def select(self, where: Mapping[str, Any] | None = None, *, limit: int | None = None,
               allow_filtering: bool = False) -> Read:
        """Rows matching ``where``, in clustering order, and what reading them cost.

        ``where`` maps a column to a value (equality) or to ``(op, value)`` with ``op`` one
        of ``<``, ``<=``, ``>``, ``>=``. ``limit`` stops after that many rows. Without
        ``allow_filtering`` only key-shaped queries are accepted (see the module's
        docstring); with it, every partition is read.
        """
        where = dict(where or {})
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ValueError(f"limit must be a non-negative int, got {limit!r}")
        conditions = {column: self._condition(column, value) for column, value in where.items()}
        problem = self._why_not_key_shaped(conditions)
        if problem is None:
            return self._read_partition(conditions, limit)
        if not allow_filtering:
            raise InvalidQuery(
                f"{self.name}: {problem}. Answering it means reading every partition on every node; "
                "design a table keyed for this query, or pass allow_filtering=True to pay for a full scan."
            )
        return self._scan(conditions, limit)

    @staticmethod
    def _condition(column: str, value: Any) -> tuple[str, Any]:
        if isinstance(value, tuple):
            if len(value) != 2 or value[0] not in _RANGE_OPS:
                raise ValueError(
                    f"{column}: a range is (op, value) with op in {sorted(_RANGE_OPS)}, got {value!r}")
            return value
        return ("=", value)

    def _why_not_key_shaped(self, conditions: Mapping[str, tuple[str, Any]]) -> str | None:
        """None when the key alone can answer; otherwise why not, in CQL's terms."""
        missing = [c for c in self.partition_key if c not in conditions]
        if missing:
            return f"the partition key {list(self.partition_key)} is not fully given (missing {missing})"
        ranged = [c for c in self.partition_key if conditions[c][0] != "="]
        if ranged:
            return f"partition-key columns {ranged} need equality (a range of hashes is every partition)"
        others = [c for c in conditions if c not in self.primary_key]
        if others:
            return f"{others} are not key columns, so only a filter over every row can match them"
        open_range = False
        for column in self.clustering:
            if column not in conditions:
                open_range = True  # later clustering columns can no longer be restricted
                continue
            if open_range:
                return f"clustering column {column!r} is restricted but an earlier one is not"
            if conditions[column][0] != "=":
                open_range = True  # a range: allowed on this one, nothing after it
        return None

    def _read_partition(self, conditions: Mapping[str, tuple[str, Any]], limit: int | None) -> Read:
        key = tuple(conditions[c][1] for c in self.partition_key)
        partition = self._partitions.get(key)
        if partition is None or limit == 0:
            return Read([], 1, 0, 1)
        lo, hi = 0, len(partition.rows)
        # Narrow [lo, hi) column by column: equalities, then at most one range (bisect on
        # the sorted clustering keys, so rows outside the slice are never read).
        prefix: list[Any] = []
        for column, order in zip(self.clustering, self.clustering_order, strict=True):
            if column not in conditions:
                break
            op, value = conditions[column]
            depth = len(prefix) + 1
            wrapped = _descending(value) if order == "desc" else value

            target = (*prefix, wrapped)
            left = bisect.bisect_left(partition.keys, target, lo, hi, key=lambda k, d=depth: k[:d])
            right = bisect.bisect_right(partition.keys, target, lo, hi, key=lambda k, d=depth: k[:d])
            if op == "=":
                lo, hi = left, right
                prefix.append(wrapped)
                continue
            # A range: which side of `value` is kept depends on the column's order.
            keeps_bigger = op in (">", ">=")
            inclusive = op in (">=", "<=")
            if keeps_bigger == (order == "asc"):  # keep the part after value
                lo = left if inclusive else right
            else:  # keep the part before value
                hi = right if inclusive else left
            break
        if limit is not None:
            hi = min(hi, lo + limit)
        rows = [dict(row) for row in partition.rows[lo:hi]]
        return Read(rows, 1, len(rows), 1)

    def _scan(self, conditions: Mapping[str, tuple[str, Any]], limit: int | None) -> Read:
        rows, rows_read, partitions, nodes = [], 0, 0, set()
        for key in sorted(self._partitions, key=lambda k: (self.node_of(k), repr(k))):
            if limit is not None and len(rows) >= limit:
                break  # like Cassandra's paging: stop once enough rows matched
            partitions += 1
            nodes.add(self.node_of(key))
            for row in self._partitions[key].rows:
                rows_read += 1
                if all(self._matches(row.get(c), op, v) for c, (op, v) in conditions.items()):
                    rows.append(dict(row))
                    if limit is not None and len(rows) >= limit:
                        break
        return Read(rows, partitions, rows_read, len(nodes), filtered=True)

    @staticmethod
    def _matches(actual: Any, op: str, value: Any) -> bool:
        if actual is None:
            return False
        return actual == value if op == "=" else _RANGE_OPS[op](actual, value)
