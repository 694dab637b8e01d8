"""Incidents: what a group flush carries, the incident lifecycle and its timeline. Pure rules;
the engine and API call them."""
