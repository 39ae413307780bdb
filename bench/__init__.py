"""Benchmarks of flask-adobe-oauth side by side with Flask-Dance and Authlib.

Not part of the test run. ``python -m bench`` runs them all in one process
against the stand-in Adobe server on 127.0.0.1 and prints a table.
"""
