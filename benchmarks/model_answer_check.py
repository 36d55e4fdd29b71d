"""model_answer_check: is each adaptive answer on the real model server within ±10 % of what holds for 30 s *then*?

Run on demand:  .venv/bin/python benchmarks/model_answer_check.py [--rounds 3] [--confirm-seconds 20]

The (c) case of capacity_accuracy takes its truth from two long sweeps minutes apart; on a VM whose speed drifts
by 20-50 % within minutes, the answer and the truth then describe different moments. This benchmark checks each
answer A right after its search instead, with two plain 30 s open-loop probes (rate_sweep.py, no search logic):
the truth lies within ±10 % of A exactly when A / 1.1 holds the SLA and A / 0.9 does not. Each round runs the
search with the default settings and with ``load.confirm_seconds`` (one long probe at the answer), each followed
by its own check, on the same server; the table gives both variants' answers, check results and test seconds.
Server pinned to CPU 1, generator to CPU 0; traffic to 127.0.0.1 only; every probe is bounded in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from capacity_accuracy import MODEL_SLA_MS, model_server, run_rate_sweep, run_task

from rightsizing.models.request import LoadSettings

BAND = 0.10  # the (c) target: within ±10 %


def check(url: str, answer: float, payloads: list[str], workdir: Path) -> dict:
    """30 s at answer / 1.1 (must hold) and at answer / 0.9 (must fail), in that order."""
    low, high = answer / (1 + BAND), answer / (1 - BAND)
    stdout = run_rate_sweep(url, payloads, workdir, "--rates", f"{low:.2f},{high:.2f}", timeout=600)
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"rate"')]
    by_rate = {round(r["rate"], 2): r for r in rows}
    lo_row, hi_row = by_rate.get(round(low, 2)), by_rate.get(round(high, 2))
    holds = bool(lo_row and lo_row["passed"])
    fails = bool(hi_row is None or not hi_row["passed"])  # not measured: the sweep stopped after clear failures
    return {
        "low": low,
        "low_p95": lo_row and lo_row["p95_ms"],
        "holds": holds,
        "high": high,
        "high_p95": hi_row and hi_row["p95_ms"],
        "fails_above": fails,
        "within": holds and fails,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--confirm-seconds", type=float, default=20.0, help="the confirmed variant's setting")
    parser.add_argument("--keep", type=Path, default=None, help="keep every run's artefacts in this folder")
    args = parser.parse_args()
    variants = {
        "default": LoadSettings(),
        f"confirm {args.confirm_seconds:g} s": LoadSettings(confirm_seconds=args.confirm_seconds),
    }
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="model-answer-check-"))
    rows: list[dict] = []
    with model_server(workdir) as (url, payloads, host):
        for round_no in range(1, args.rounds + 1):
            for name, load in variants.items():
                where = workdir / f"round{round_no}" / name.replace(" ", "-")
                result, _ = run_task(url, load, MODEL_SLA_MS, 600, where / "search", payloads)
                answer = result.sustainable_rps
                verdict = check(url, answer, payloads, where / "check") if answer > 0 else {"within": False}
                rows.append(
                    {
                        "round": round_no,
                        "variant": name,
                        "answer": answer,
                        "seconds": result.test_seconds,
                        "stop_reason": result.stop_reason,
                        **verdict,
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(
        f"{'round':>5} {'variant':16} {'answer':>8} {'s':>5} {'A/1.1':>7} {'p95':>7} {'A/0.9':>7} {'p95':>7}  "
        "within ±10 %"
    )
    for r in rows:
        print(
            f"{r['round']:5d} {r['variant']:16} {r['answer']:8.1f} {r['seconds']:5.0f} {r.get('low', 0):7.1f} "
            f"{r.get('low_p95') or 0:7.1f} {r.get('high', 0):7.1f} {r.get('high_p95') or 0:7.1f}  "
            f"{'yes' if r['within'] else 'no'}"
        )
    for name in variants:
        mine = [r for r in rows if r["variant"] == name]
        print(
            f"{name}: within ±10 % in {sum(r['within'] for r in mine)} of {len(mine)} rounds; "
            f"mean test seconds {sum(r['seconds'] for r in mine) / len(mine):.0f}"
        )
    print(
        f"host speed (model app requests/s, 1 s slices): median {host['median']:.0f}, {host['min']:.0f}-"
        f"{host['max']:.0f}, {host['slow_share']:.0%} of slices below 80 % of the median"
    )


if __name__ == "__main__":
    main()
