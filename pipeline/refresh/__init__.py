"""The daily refresh's plan: which matched tracks each source asks about on a day (plan.py)."""
