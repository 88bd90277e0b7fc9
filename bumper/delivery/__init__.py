"""Delivery: land a planned change in git, race-safely, without starting workflows again.

``contract`` (what every mode is given and answers), ``modes`` (the registry and
``deliver``), one module per mode (``gitpush``, ``apicommit``, ``pullrequest``), and
what they share: ``workspace`` (work trees, credentials, git errors), ``messages``
(templates), ``github`` (the API client), ``loopguard`` (bumper's own commits).
"""
