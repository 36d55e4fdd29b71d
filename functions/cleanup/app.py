"""SweepRun state (cleanup state machine): delete a stopped run's leftovers by run-id tag (rightsizing.steps.sweep)."""

from rightsizing.lambda_entry import step_handler

lambda_handler = step_handler(
    "sweep",
    "swept run",
    metric="ResourcesSwept",
    measure=lambda output: len(output["deleted"]),
    details=lambda output: {k: output[k] for k in ("run_id", "deleted", "remaining")},
)
