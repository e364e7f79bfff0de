"""Framework-free building blocks: ids, clock, errors, events, i18n. Imports nothing of ours."""
