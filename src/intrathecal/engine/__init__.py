"""Exact delivery maths: cumulative volume and dose, time to volume, fleets of pumps at once."""
