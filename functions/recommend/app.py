"""Recommend state: price the candidates, choose, write result.json/results.csv (rightsizing.steps.recommend)."""

from rightsizing.lambda_entry import step_handler

lambda_handler = step_handler(
    "recommend",
    "run summarised",
    metric="RecommendationMade",
    measure=lambda summary: 1 if summary["recommended"] else 0,
    details=lambda summary: {"run_id": summary["run_id"], "summary": summary["message"]},
)
