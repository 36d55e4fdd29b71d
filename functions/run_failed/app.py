"""RunFailed: a run ended FAILED, TIMED_OUT or ABORTED; put "Rightsizing Failed" (rightsizing.steps.run_failed)."""

from rightsizing.lambda_entry import step_handler

lambda_handler = step_handler(
    "run-failed",
    "run failure announced",
    metric="RunFailed",
    measure=lambda output: len(output["published"]),
    details=lambda output: {"run_id": output["published"][0]["Detail"]["run_id"]},
)
