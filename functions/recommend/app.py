"""Recommend state: price the candidates, choose, write result.json/results.csv, record the run in its model's
history and return the events to put (rightsizing.steps.recommend)."""

from rightsizing.lambda_entry import step_handler

lambda_handler = step_handler(
    "recommend",
    "run summarised",
    metric="RecommendationMade",
    measure=lambda output: 1 if output["summary"]["recommended"] else 0,
    details=lambda output: {
        "run_id": output["summary"]["run_id"],
        "summary": output["summary"]["message"],
        "events": [e["DetailType"] for e in output["events"]],
    },
)
