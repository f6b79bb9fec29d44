"""The scale benchmark: does a saga cost more once the shop has a long history?

    .venv/bin/python -m bench.scale --history 50000 --duration 60          (make bench-scale)
    .venv/bin/python -m bench.scale --runtime dapr --history 2000 --duration 15

Runs `make bench`'s load (`bench.saga_bench`: the same stack, accounts, products,
clients, order mix and audit) twice, each on a fresh stack of the same runtime:
first on an empty store, then after preloading `--history` prior orders
(`bench.preload`) over the load's own accounts (one per client) and products
(eight), one courier slot per order, written through the services' own code.
The history orders join the audit's ledger, so the audit also proves that the
preload left each of them as a completed saga does.

For each run it measures throughput, latency, and CPU per saga: every process
of the stack (apps, sidecars, and on real Dapr Postgres, Redis, scheduler,
placement, gateway), the load generator excluded. Around each measured load
it snapshots every value in every app state store (localdapr: its SQLite
`state` table; daprd: the stores' Postgres tables) and reports the largest
value among the keys the load created or changed (`max_record_bytes`), with
the five largest. The workflow engine's own state is not an app record: on
daprd (which keeps it in the order store) it is reported apart; localdapr keeps
it in tables of its own.

Writes `{--out}/scale.json` (and each run's `bench.json`/`bench.png` under
`empty/` and `history/`); the last line of output is one JSON object. Exit
status 1 if either run's audit fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.preload import HistoryPlan, history_slot_base, preload
from bench.saga_bench import Fixture, drive
from tests.e2e.stack import ROOT, RUNTIMES, Stack, make_stack
from tests.faults.audit import Ledger

LOAD_GENERATOR = "bench client"
ENGINE = "workflow engine"  # daprd's actor/workflow state in the order store: `app||type||id||key`

Sizes = dict[tuple[str, str], tuple[str, int]]  # (store, key) -> (etag or version, bytes)


# -- state value sizes ------------------------------------------------------------------


def sqlite_sizes(path: Path) -> Sizes:
    """Every value of localdapr's state stores: (app, key) -> (ETag, bytes as stored). localdapr
    names a store by a hash of where it lives; each key starts with its app's id."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT store, key, etag, length(value) FROM state").fetchall()
    finally:
        conn.close()
    return {(key.split("||", 1)[0], key): (str(etag), int(size)) for _, key, etag, size in rows}


@dataclass(frozen=True)
class PostgresStore:
    name: str
    database: str
    table: str


def postgres_stores(components: Path) -> list[PostgresStore]:
    """The `state.postgresql` components of a folder: their database and table."""
    stores = []
    for path in sorted(components.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "Component":
                continue
            if not str(doc["spec"].get("type", "")).startswith("state.postgres"):
                continue
            meta = {m["name"]: str(m.get("value", "")) for m in doc["spec"].get("metadata") or []}
            conn = dict(p.split("=", 1) for p in meta.get("connectionString", "").split() if "=" in p)
            stores.append(
                PostgresStore(doc["metadata"]["name"], conn["database"], meta.get("tableName", "state"))
            )
    return stores


def psql(port: int, database: str, sql: str) -> str:
    tool = shutil.which("psql")
    if tool is None:
        from dapr_runtime.infra import postgres_bindir

        tool = str(postgres_bindir() / "psql")
    argv = [tool, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database, "-At", "-F", "\t"]
    result = subprocess.run([*argv, "-c", sql], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"psql {database}: {result.stderr.strip()}")
    return result.stdout


def postgres_sizes(port: int, stores: list[PostgresStore]) -> Sizes:
    """Every value of daprd's Postgres state stores: (store, key) -> (xmin, bytes of its JSON text)."""
    out: Sizes = {}
    for s in stores:
        sql = f'SELECT key, xmin::text, octet_length(value::text) FROM "{s.table}"'
        for line in psql(port, s.database, sql).splitlines():
            key, xmin, size = line.rsplit("\t", 2)
            out[(s.name, key)] = (xmin, int(size))
    return out


def is_engine_key(key: str) -> bool:
    """daprd's actor state (workflow histories, inboxes, metadata) has `app||type||id||key`;
    an app's own key is `app||key`."""
    return key.count("||") >= 3


def written(before: Sizes, after: Sizes) -> list[tuple[int, str, str]]:
    """(bytes, store, key) of every value created or changed between two snapshots, largest first."""
    changed = [
        (size, store, key)
        for (store, key), (etag, size) in after.items()
        if before.get((store, key), ("", 0))[0] != etag
    ]
    return sorted(changed, reverse=True)


def record_report(before: Sizes, after: Sizes, top: int = 5) -> dict[str, Any]:
    changed = written(before, after)
    app = [c for c in changed if not is_engine_key(c[2])]
    engine = [c for c in changed if is_engine_key(c[2])]
    largest = [{"store": s, "key": k, "bytes": b} for b, s, k in app[:top]]
    by_app: dict[str, int] = {}
    for size, _, key in app:
        by_app.setdefault(key.split("||", 1)[0], size)  # largest first
    report: dict[str, Any] = {
        "max_record_bytes": app[0][0] if app else 0,
        "max_record_bytes_by_app": dict(sorted(by_app.items())),
        "largest": largest,
        "values_written": len(app),
        "keys_before": len(before),
        "keys_after": len(after),
        "largest_anywhere": max((size for _, size in after.values()), default=0),
    }
    if engine:
        report["engine_values_written"] = len(engine)
        report["engine_max_bytes"] = engine[0][0]
        report["engine_largest"] = [{"store": s, "key": k, "bytes": b} for b, s, k in engine[:top]]
    return report


# -- one run ------------------------------------------------------------------------------


@dataclass
class ScaleHooks:
    """Around `saga_bench.drive`'s measured load: preload the history (if any), let the
    stack settle, and snapshot the state stores just before and just after the load."""

    history: int
    concurrency: int
    settle: float
    workdir: Path
    preloaded: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    records: dict[str, Any] = field(default_factory=dict)
    load_ended: float = 0.0
    _before: Sizes = field(default_factory=dict)

    def sizes(self, stack: Stack) -> Sizes:
        if stack.runtime == "dapr":
            system = stack.system  # type: ignore[attr-defined]
            assert system is not None and system.postgres is not None
            return postgres_sizes(system.postgres.port, postgres_stores(self.components(stack)))
        return sqlite_sizes(stack.workdir / "data" / "localdapr.sqlite3")

    @staticmethod
    def components(stack: Stack) -> Path:
        local = stack.workdir / "components"  # the stack's copy, when it runs the dead-letter app
        return local if local.is_dir() else ROOT / "components"

    def vacuum(self, stack: Stack) -> None:
        """daprd: VACUUM ANALYZE the app stores, as a shop's routine maintenance would have, so
        the measured load does not pay for the autovacuum of a bulk load that just ended."""
        if stack.runtime != "dapr":
            return
        port = stack.system.postgres.port  # type: ignore[attr-defined]
        for s in postgres_stores(self.components(stack)):
            psql(port, s.database, f'VACUUM ANALYZE "{s.table}"')

    async def before_load(
        self, stack: Stack, http: aiohttp.ClientSession, fx: Fixture, ledger: Ledger
    ) -> None:
        if self.history:
            async with http.get("/delivery/couriers") as r:
                r.raise_for_status()
                couriers = len(await r.json(content_type=None))
            plan = HistoryPlan(
                orders=self.history,
                logins=list(fx.rich),
                products=list(fx.products),
                slot_base=history_slot_base().isoformat(),
                couriers=max(couriers, 1),
            )
            self.plan = {
                "accounts": len(plan.logins),
                "products": len(plan.products),
                "couriers": plan.couriers,
                "slot_days": round(plan.days, 1),
                "concurrency": self.concurrency,
            }
            print(f"[preload] {self.history} orders: {self.plan}", file=sys.stderr, flush=True)
            self.preloaded = await preload(stack, plan, self.workdir / "preload", self.concurrency)
            for order_id in self.preloaded.pop("order_ids"):
                ledger.order(order_id)  # the audit checks the history too
        await asyncio.to_thread(self.vacuum, stack)
        await asyncio.sleep(self.settle)
        self._before = await asyncio.to_thread(self.sizes, stack)

    async def after_load(self, stack: Stack) -> None:
        after = await asyncio.to_thread(self.sizes, stack)
        self.records = record_report(self._before, after)
        self.load_ended = time.monotonic()


def cpu_total(results: dict[str, Any]) -> float:
    """CPU per saga of every process of the stack, the load generator excluded."""
    return round(sum(v for k, v in results["cpu_ms_per_saga"].items() if k != LOAD_GENERATOR), 1)


def run(label: str, args: argparse.Namespace, history: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"saga-scale-{label}-"))
    stack = make_stack(args.runtime, workdir, deadletters=True)
    hooks = ScaleHooks(history, args.concurrency, args.settle, workdir)
    bench_args = argparse.Namespace(
        clients=args.clients, duration=args.duration, profile=None, out=str(Path(args.out) / label)
    )
    print(f"== {label}: {args.runtime}, history {history}", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        stack.start()
        results = asyncio.run(drive(stack, bench_args, hooks))
        ended = time.monotonic()
    except BaseException:
        print(stack.logs(), file=sys.stderr)
        raise
    finally:
        stack.stop()
        if args.keep:
            print(f"stack directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results |= {
        "history_orders": history,
        "preload": hooks.preloaded,
        "history_plan": hooks.plan,
        "records": hooks.records,
        "cpu_ms_per_saga_total": cpu_total(results),
        "wall_s": round(time.monotonic() - started, 1),
        "audit_s": round(ended - hooks.load_ended, 1),  # with the outputs; the history is audited too
    }
    return results


# -- output ----------------------------------------------------------------------------------


def table(empty: dict[str, Any], history: dict[str, Any]) -> str:
    def row(name: str, a: Any, b: Any, note: str = "") -> str:
        return f"{name:<34} {a!s:>14} {b!s:>14}  {note}".rstrip()

    e, h = empty, history
    ratio = h["cpu_ms_per_saga_total"] / e["cpu_ms_per_saga_total"] - 1 if e["cpu_ms_per_saga_total"] else 0
    lines = [
        row("", "empty", f"history {h['history_orders']}"),
        row("sagas (audit)", f"{e['sagas']} ({_audit(e)})", f"{h['sagas']} ({_audit(h)})"),
        row("throughput, sagas/s", e["throughput_sagas_per_s"], h["throughput_sagas_per_s"]),
        row(
            "p50 / p95, ms",
            f"{e['p50_ms']:.0f} / {e['p95_ms']:.0f}",
            f"{h['p50_ms']:.0f} / {h['p95_ms']:.0f}",
        ),
        row(
            "CPU per saga, ms (all processes)",
            e["cpu_ms_per_saga_total"],
            h["cpu_ms_per_saga_total"],
            f"{ratio:+.1%}",
        ),
    ]
    names = [n for n in e["cpu_ms_per_saga"] if n != LOAD_GENERATOR]
    names += [n for n in h["cpu_ms_per_saga"] if n not in names and n != LOAD_GENERATOR]
    for name in names:
        lines.append(
            row(f"  {name}", e["cpu_ms_per_saga"].get(name, "-"), h["cpu_ms_per_saga"].get(name, "-"))
        )
    lines.append(
        row(
            f"  ({LOAD_GENERATOR}, not counted)",
            e["cpu_ms_per_saga"].get(LOAD_GENERATOR),
            h["cpu_ms_per_saga"].get(LOAD_GENERATOR),
        )
    )
    lines.append(
        row(
            "max record bytes written in load",
            e["records"]["max_record_bytes"],
            h["records"]["max_record_bytes"],
        )
    )
    for app in sorted(
        set(e["records"]["max_record_bytes_by_app"]) | set(h["records"]["max_record_bytes_by_app"])
    ):
        by_app = [r["records"]["max_record_bytes_by_app"].get(app, "-") for r in (e, h)]
        lines.append(row(f"  {app}", *by_app))
    if "engine_max_bytes" in h["records"]:
        lines.append(
            row(
                "  workflow engine's, apart",
                e["records"].get("engine_max_bytes"),
                h["records"]["engine_max_bytes"],
            )
        )
    lines.append(
        row("largest value in the stores", e["records"]["largest_anywhere"], h["records"]["largest_anywhere"])
    )
    lines.append("largest values written during the history run's load:")
    lines += [f"  {r['bytes']:>9} B  {r['store']}  {r['key']}" for r in h["records"]["largest"]]
    return "\n".join(lines)


def _audit(results: dict[str, Any]) -> str:
    return "clean" if results["audit_ok"] else "FAILED"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--history", type=int, default=50_000, help="prior orders to preload")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of measured load, each run")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=16, help="preload: requests in flight per app")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of rest before each measured load")
    parser.add_argument("--runtime", choices=RUNTIMES, default="localdapr")
    parser.add_argument("--out", default=str(ROOT / "reports" / "bench-scale"))
    parser.add_argument("--keep", action="store_true", help="keep each stack's directory (logs, data)")
    args = parser.parse_args()
    try:  # checked first: saga_bench draws a chart for each run
        import matplotlib  # noqa: F401
    except ImportError:
        sys.exit("matplotlib is needed for the chart: .venv/bin/pip install matplotlib")

    empty = run("empty", args, 0)  # empty first, then history, each on a fresh stack
    history = run("history", args, args.history)
    print(json.dumps({"empty": empty["steps"], "history": history["steps"]}, indent=2), file=sys.stderr)
    print(table(empty, history))

    summary = {
        "runtime": args.runtime,
        "history_orders": args.history,
        "cpu_ms_per_saga_empty": empty["cpu_ms_per_saga_total"],
        "cpu_ms_per_saga_history": history["cpu_ms_per_saga_total"],
        "cpu_change": round(history["cpu_ms_per_saga_total"] / empty["cpu_ms_per_saga_total"] - 1, 3),
        "throughput_empty": empty["throughput_sagas_per_s"],
        "throughput_history": history["throughput_sagas_per_s"],
        "p95_ms_empty": empty["p95_ms"],
        "p95_ms_history": history["p95_ms"],
        "max_record_bytes": history["records"]["max_record_bytes"],
        "max_record_bytes_empty": empty["records"]["max_record_bytes"],
        "sagas_empty": empty["sagas"],
        "sagas_history": history["sagas"],
        "duration_s": args.duration,
        "clients": args.clients,
        "preload_s": history["preload"].get("seconds"),
        "preload_orders_per_s": history["preload"].get("orders_per_s"),
        "audit_s_history": history["audit_s"],  # it checks every history order too
        "wall_s": round(empty["wall_s"] + history["wall_s"], 1),
        "order": "empty first, then history; a fresh stack each",
        "audit_ok": empty["audit_ok"] and history["audit_ok"],
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(
        json.dumps({"summary": summary, "empty": empty, "history": history}, indent=2)
    )
    print(json.dumps(summary))
    sys.exit(0 if summary["audit_ok"] else 1)


if __name__ == "__main__":
    main()
