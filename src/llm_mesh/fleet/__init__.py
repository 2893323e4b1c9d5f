"""Self-hosted fleet planning: which model copies go on which GPUs, at least cost.

One job per module: ``catalogue`` (dated instance data), ``config`` (the ``fleet:``
section), ``throughput`` (memory and speed model), ``packing`` (GPU/instance state),
``planner`` (heuristic), ``exact`` (exhaustive solver for small cases), ``profile``
(traffic from the request log), ``explain`` (plan as text/JSON), ``deploy`` (inference
component input), ``cases`` (seeded random fleets for tests and the bench).
"""
