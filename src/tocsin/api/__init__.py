"""The HTTP API: Alertmanager-compatible ``/api/v2``, the other intakes (Alertmanager webhook,
PagerDuty events, generic JSON), tocsin's native ``/api/v1`` and token auth."""
