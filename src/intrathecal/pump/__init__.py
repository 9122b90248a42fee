"""Virtual pump: firmware state machine, alarms, event log, persistence and telemetry."""
