"""Guardrails: limits, dose-change limits, the refill-due rule and the program review chain."""
