"""Messages between the distributed master (``distributed``) and its workers (``worker``), over Locust's own
master/worker channel (custom messages). Every request carries an ``id``; every reply echoes it."""

from __future__ import annotations

MASTER_HOST_ENV = "RIGHTSIZING_MASTER_HOST"  # default 127.0.0.1 (worker processes beside the master)
MASTER_PORT_ENV = "RIGHTSIZING_MASTER_PORT"
WORKER_INDEX_ENV = "RIGHTSIZING_WORKER_INDEX"
MASTER_PID_ENV = "RIGHTSIZING_MASTER_PID"  # a worker whose parent is no longer this process exits (processes only)

WINDOW = "rs_window"  # closed loop: record completions for {seconds}; reply latencies, counts, CPU
OPEN_LOOP = "rs_open"  # open loop: pace {rate} (this worker's share) with {phase}; reply an OpenLoopTally
FLUSH = "rs_flush"  # send Locust stats to the master now; reply totals (before the master writes its CSVs)
REPLY = "rs_reply"  # {id, error?} + the request's figures + cumulative request totals
