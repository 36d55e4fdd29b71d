"""PlanRun state: validate the request, write the jobs, name every resource (rightsizing.steps.plan)."""

from rightsizing.lambda_entry import step_handler

lambda_handler = step_handler(
    "plan",
    "planned run",
    metric="CandidatesPlanned",
    measure=lambda plan: len(plan["candidates"]),
    details=lambda plan: {"run_id": plan["run_id"], "candidates": len(plan["candidates"])},
)
