"""Population and fleet simulation: the clinic's next weeks and many pump-years (issue 14).

The Monte Carlo cores (``streams``, ``risk``, ``fleet``, ``workload``, ``drugs``) are pure NumPy:
no I/O, no clock. ``engines`` runs chunks in-process, on local cores or on a Dask cluster;
``clinic`` reads the clinic database.
"""
