"""KPI reports and the real-time wallboard (docs/reports.md, ../shared/KPI.md)."""
