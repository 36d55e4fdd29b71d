"""Model Registry trigger: an approved package version starts a run with its group's profile
(rightsizing.steps.registry_run)."""

from rightsizing.lambda_entry import trigger_handler

lambda_handler = trigger_handler("registry-run")
