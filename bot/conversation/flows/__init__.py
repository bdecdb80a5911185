"""Flows as data: the schema, the engine, question handling and the shipped flow files."""
