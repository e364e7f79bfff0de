"""Workforce: Erlang C / Erlang A staffing and the simulator that drives the Router with a virtual clock."""
