"""CollectMetrics state: turn the load test's result into a CandidateResult (rightsizing.steps.collect)."""

from rightsizing.lambda_entry import step_handler

lambda_handler = step_handler(
    "collect-metrics",
    "candidate measured",
    metric="SustainableRps",
    measure=lambda result: result["sustainable_rps"] or 0,
    details=lambda result: {"candidate_id": result["candidate_id"]},
)
