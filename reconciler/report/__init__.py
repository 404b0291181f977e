"""`reconcile report`: the fleet at a glance from the JSON results of the other commands.

``envelope``: the result file every command's ``--out`` writes (drift, apply, doctor, manual);
``reader``: the strict reader of result files (plan, health and envelopes); ``fleet``: one row
per tenant with its separate axes and their worst-of state; ``html``, ``table`` and
``summary``: the page, the CSV/JSON table and the markdown job summary (docs/report-format.md).
"""
