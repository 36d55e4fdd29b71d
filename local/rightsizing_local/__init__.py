"""Local mode: the same state machine, executed on this machine with no AWS.

moto's ASL interpreter runs ``statemachine/rightsizing.asl.json``; its Task integrations are routed to the fakes in
this package: SageMaker endpoints are real model servers on 127.0.0.1 (``model_server``), ECS tasks are load-test
processes (``rightsizing_loadtest.task``), Lambda functions are the layer's steps (``rightsizing.steps``).
"""
