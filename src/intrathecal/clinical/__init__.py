"""Calculators of the clinician programmer: refill, reconciliation, boluses, titration, conversions.

Pure functions: each returns its answer and the reasons behind it. Reference calculations for
trained clinicians.
"""
