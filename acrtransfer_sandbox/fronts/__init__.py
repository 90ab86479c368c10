"""The HTTP fronts, one per service: parse, authenticate, authorize, call a rule, answer."""
