"""EventBridge Scheduler target: start the schedule's stored request once per period
(rightsizing.steps.scheduled_run)."""

from rightsizing.lambda_entry import trigger_handler

lambda_handler = trigger_handler("scheduled-run")
