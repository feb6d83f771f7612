"""Other gateways' figures, read from a bench-peers results table instead of written in here.

`../shared/bench-peers/run.sh` measures Apollo, Hive Gateway, Tailcall, plain Strawberry and
jobgate over one nginx upstream and writes a Markdown table, one row per server and query:

    | server | query | req/s | p50 ms | p99 ms | non-2xx/errors | upstream/req |

`python -m bench --peers FILE` reads that table; the report then judges the ratio targets
(e.g. Q20 ≥ 0.5x Tailcall's) against figures measured on the same machine, and shows them.
Without it those targets are "n/a": no figure from another day or machine is assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# jobgate's own bench names a query by what it asks; bench-peers by a short code. A cold query
# with ids in variables (one document) is the peers' "v" kind; ids written into the document "c".
PEER_QUERY = {
    "Q0": "Q0", "Q1": "Q1", "Q20": "Q20", "Q1 cold": "Q1v", "Q20 cold": "Q20v",
    "Q1 cold literal": "Q1c", "Q20 cold literal": "Q20c",
}  # fmt: skip


@dataclass(frozen=True)
class PeerRow:
    server: str
    query: str
    rps: float | None  # None: the server failed the query and was not timed
    p50_ms: float | None
    p99_ms: float | None
    errors: str


@dataclass
class PeerTable:
    source: str  # the file it was read from, as given
    rows: list[PeerRow]

    def rps(self, server: str, query: str) -> float | None:
        for row in self.rows:
            if row.server == server and row.query == query:
                return row.rps
        return None

    def servers(self) -> list[str]:
        return list(dict.fromkeys(row.server for row in self.rows))


def _number(cell: str) -> float | None:
    try:
        return float(cell.replace(",", ""))
    except ValueError:
        return None


def parse(text: str, source: str = "") -> PeerTable:
    """Every data row of the table under the `| server | query | req/s |` header."""
    rows: list[PeerRow] = []
    in_table = False
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|"):
            in_table = False
            continue
        if cells[:3] == ["server", "query", "req/s"]:
            in_table = True
            continue
        if not in_table or len(cells) < 6 or set(cells[0]) <= set("-: "):
            continue
        rps, p50, p99 = (_number(c) for c in cells[2:5])
        rows.append(PeerRow(cells[0], cells[1], rps, p50, p99, cells[5]))
    if not rows:
        raise ValueError(f"{source or 'peers table'}: no `| server | query | req/s |` rows")
    return PeerTable(source, rows)


def load(path: Path) -> PeerTable:
    return parse(path.read_text(encoding="utf-8"), str(path))
